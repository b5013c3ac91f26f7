"""Combine the finished cells of a utility study into figures per setting, comparisons and conditional fidelity.

- Per setting: each metric's mean over training seeds, the seeds' standard deviation, and the bootstrap
  interval of the mean over test images (:func:`.scores.classification_scores`).
- Comparisons (paired bootstrap over the same test images, :func:`.scores.paired_difference`): each augmented
  setting against the same real share without synthetic images; TSTR and each real subset against TRTR. A
  difference whose interval lies above 0 is reported as ``"helps"``, below 0 as ``"hurts"``, else as ``"no
  clear difference"``. The interval covers test-set sampling; compare the difference with the seeds' spread
  too before calling a small one real.
- Conditional fidelity of the synthetic pool, from the TRTR classifiers (:mod:`.conditional`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monai_synth.metrics.utility.conditional import conditional_fidelity
from monai_synth.metrics.utility.plan import Cell, Setting
from monai_synth.metrics.utility.scores import METRICS, classification_scores, paired_difference

__all__ = ["baseline_of", "summarise", "verdict"]


def verdict(ci: Sequence[float] | None) -> str:
    """``"helps"`` / ``"hurts"`` when the interval of a difference excludes 0, else ``"no clear difference"``."""
    if not ci:
        return "no interval"
    if ci[0] > 0:
        return "helps"
    if ci[1] < 0:
        return "hurts"
    return "no clear difference"


def baseline_of(setting: Setting) -> Setting | None:
    """The setting a setting is compared with: the same real share without synthetic images, or TRTR."""
    if setting.kind == "augmented":
        return Setting(setting.network, setting.real_fraction, 0.0)
    if setting.kind in ("tstr", "real_only"):
        return Setting(setting.network, 1.0, 0.0)
    return None


def _probabilities(results: Mapping[str, dict], setting: Setting, seeds: Sequence[int]) -> list[np.ndarray]:
    return [np.asarray(results[Cell(setting, s).key]["test_probabilities"], dtype=np.float64) for s in seeds]


def _row(setting, seeds, results, labels, boot: dict) -> dict[str, Any]:
    cells = [results[Cell(setting, s).key] for s in seeds]
    row: dict[str, Any] = {**setting.to_dict(), "seeds": [int(s) for s in seeds]}
    row["n_real"] = cells[0]["n_real"]
    row["n_synthetic"] = cells[0]["n_synthetic"]
    row["synthetic_shortfall"] = cells[0].get("synthetic_shortfall")
    row["train_seconds"] = round(float(sum(c.get("seconds", 0.0) for c in cells)), 1)
    row.update(classification_scores(labels, _probabilities(results, setting, seeds), **boot))
    base = baseline_of(setting)
    if base is not None:
        delta = paired_difference(labels, _probabilities(results, setting, seeds),
                                  _probabilities(results, base, seeds), **boot)  # fmt: skip
        for m in METRICS:
            delta[m]["verdict"] = verdict(delta[m]["ci"])
        row["compared_with"] = base.key
        row["difference"] = delta
    return row


def _conditional(settings, seeds, results, data_labels, synthetic_labels, class_names, boot) -> dict[str, Any]:
    out = {}
    for setting in settings:
        if setting.kind != "trtr" or synthetic_labels is None or len(synthetic_labels) == 0:
            continue
        cells = [results[Cell(setting, s).key] for s in seeds]
        if any("synthetic_predictions" not in c for c in cells):
            continue
        out[setting.network] = conditional_fidelity(
            np.asarray(synthetic_labels), [np.asarray(c["synthetic_predictions"]) for c in cells], class_names,
            np.asarray(data_labels), [np.asarray(c["test_probabilities"]).argmax(1) for c in cells],
            boot["num_resamples"], boot["confidence"], boot["seed"],
        )  # fmt: skip
    return out


def summarise(
    settings: Sequence[Setting],
    seeds: Sequence[int],
    results: Mapping[str, dict],
    test_labels: np.ndarray,
    synthetic_labels: np.ndarray | None,
    class_names: Sequence[str],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Figures of every setting, TRTR against TSTR per network, and conditional fidelity.

    Args:
        settings: the planned settings.
        seeds: training seeds (every ``(setting, seed)`` cell must be in ``results``).
        results: cell results by cell key (:func:`.cell.run_cell`).
        test_labels: labels of the real held-out images.
        synthetic_labels: conditioned class of each pool image (None: no conditional fidelity).
        class_names: class names.
        num_resamples / confidence / seed: bootstrap settings.

    Returns:
        ``{"settings": [row, ...], "trtr_vs_tstr": {network: {...}}, "conditional_fidelity": {network: {...}}}``.
    """
    boot = {"num_resamples": num_resamples, "confidence": confidence, "seed": seed}
    labels = np.asarray(test_labels)
    rows = [_row(s, seeds, results, labels, boot) for s in settings]
    by_key = {r["key"]: r for r in rows}
    versus = {}
    for r in rows:
        if r["kind"] == "tstr":
            trtr = by_key[r["compared_with"]]
            versus[r["network"]] = {
                "trtr": {m: trtr[m] for m in METRICS}, "tstr": {m: r[m] for m in METRICS},
                "tstr_minus_trtr": r["difference"], "n_real": trtr["n_real"], "n_synthetic": r["n_synthetic"],
            }  # fmt: skip
    return {
        "settings": rows,
        "trtr_vs_tstr": versus,
        "conditional_fidelity": _conditional(settings, seeds, results, labels, synthetic_labels, class_names, boot),
    }
