"""One verdict line per measure, in words, with the threshold the verdict used.

Each verdict is a dict: ``measure``, ``space`` (or ``None``), ``status`` (``"FLAG"``, ``"OK"`` or ``"NOT RUN"``),
``flagged`` (bool or ``None``), ``threshold`` (what the value was compared with) and ``line`` (the sentence).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["copy_verdict", "distance_verdict", "membership_verdict"]


def _pct(value: float) -> str:
    return f"{100.0 * value:.1f} %"


def _status(flagged: bool | None) -> str:
    return "NOT RUN" if flagged is None else ("FLAG" if flagged else "OK")


def copy_verdict(space: str, label: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Verdict on the calibrated copy rate of one space (``label``: what the similarity is)."""
    ci = result.get("share_ci")
    interval = f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else ""
    rule = f"{label} > {result['threshold']:.4f}, the {result['percentile']:g}th percentile of hold-out images"
    what = (f"{_pct(result['share'])}{interval} of synthetic images lie closer to a training image than "
            f"{result['percentile']:g} % of unseen real images do ({rule}); {_pct(result['expected_share'])} expected "
            "without copying")
    line = ("more synthetic images near-copy training images than chance allows: " if result["flagged"]
            else "no excess of near-copies: ") + what
    return {"measure": "copy rate", "space": space, "status": _status(result["flagged"]), "flagged": result["flagged"],
            "threshold": {"similarity": result["threshold"], "share_expected": result["expected_share"]}, "line": line}


def distance_verdict(measure: str, space: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Verdict of a synthetic-versus-hold-out comparison (``measure``: "DCR" or "NNDR")."""
    s, h = result["synthetic"]["median"], result["holdout"]["median"]
    what = (f"median {measure} synthetic {s:.4g} vs hold-out {h:.4g}; a synthetic image is the closer of a random "
            f"pair {_pct(result['closer_share'])} of the time (50 % = like unseen real images); one-sided Mann-Whitney "
            f"p = {result['p_value']:.3g}, threshold p < {result['alpha']:g}")
    if measure == "DCR":
        head = ("synthetic images sit closer to the training set than unseen real images do: " if result["flagged"]
                else "synthetic images sit no closer to the training set than unseen real images: ")
    else:
        head = ("synthetic images sit closer to one particular training image than unseen real images do: "
                if result["flagged"] else "no excess of images tied to one training image: ")
    return {"measure": measure, "space": space, "status": _status(result["flagged"]), "flagged": result["flagged"],
            "threshold": {"p_value": result["alpha"]}, "line": head + what}


def membership_verdict(result: Mapping[str, Any]) -> dict[str, Any]:
    """Verdict of the loss-threshold membership attack (or why it did not run)."""
    if result.get("skipped"):
        return {"measure": "membership inference", "space": None, "status": "NOT RUN", "flagged": None,
                "threshold": None, "line": result["skipped"]}
    ci = result.get("auc_ci")
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    what = (f"AUC {result['auc']:.3f}{interval} (threshold: interval above 0.5), TPR {_pct(result['tpr_at_fpr'])} at "
            f"{_pct(result['target_fpr'])} FPR, {result['n_members']} training vs {result['n_nonmembers']} hold-out "
            "images")
    head = ("the model's denoising loss tells its training images from unseen ones: " if result["flagged"]
            else "training images cannot be told from unseen ones by the denoising loss: ")
    return {"measure": "membership inference", "space": None, "status": _status(result["flagged"]),
            "flagged": result["flagged"], "threshold": {"auc": 0.5}, "line": head + what}
