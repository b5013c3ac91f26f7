"""Train and sample one model of a comparison through its bundle configs; each step is skipped once done.

A model's run folder holds the bundle's own outputs plus ``run.json`` (length, measured seconds, the bundle
settings it was trained with), written once training has finished, and ``samples/`` (complete when its
``manifest.jsonl`` has one line per sample). Running the command again resumes an interrupted training run
(the bundles resume from their checkpoints) and skips what is complete; a finished run with other settings is refused, not reused.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai_synth.comparison.bundle_runs import run_bundle
from monai_synth.data.errors import DataError
from monai_synth.io.bundle_configs import bundle_file
from monai_synth.engines.checkpoint import load_state
from monai_synth.io.atomic import atomic_open

NO_EVALUATION = {"evaluation#interval": 0}


def write_json(obj: Any, path: Path) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename."""
    with atomic_open(path) as handle:
        handle.write((json.dumps(obj, indent=2, default=float) + "\n").encode("utf-8"))


def finished_run(run_dir: Path) -> dict[str, Any] | None:
    """The ``run.json`` of a finished training run, or None."""
    path = run_dir / "run.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _as_json(settings: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(dict(settings), default=str))


def _reused(run_dir: Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The finished run in ``run_dir`` if it was trained with ``settings``; None if unfinished.

    Raises:
        DataError: the run finished with other bundle settings (reusing it would mislabel the result). Runs
            recorded before the settings were kept in ``run.json`` are reused as they are.
    """
    done = finished_run(run_dir)
    if done is None or "settings" not in done or done["settings"] == _as_json(settings):
        return done
    recorded, wanted = done["settings"], _as_json(settings)
    differ = sorted(k for k in set(recorded) | set(wanted) if recorded.get(k) != wanted.get(k))
    raise DataError(f"a finished run with other settings ({', '.join(differ)} differ) is in the way; choose "
                    "another --out, or delete the folder to train it again", path=run_dir)  # fmt: skip


def train_stylegan2(run_dir: Path, overrides: Mapping[str, Any], length: Mapping[str, Any]) -> dict[str, Any]:
    """Train the StyleGAN2-ADA bundle (evaluation during training off); return ``run.json``.

    Args:
        length: the run length as bundle keys: ``{"kimg": k}``, or ``{"budget_minutes": m}`` (the bundle times
            its first iterations on the real data, plans the run and stops on the clock if it runs over).
    """
    settings = {**overrides, **NO_EVALUATION, "evaluation#interval_kimg": 0, "output_dir": str(run_dir), **length}
    done = _reused(run_dir, settings)
    if done is not None:
        return done
    wall = run_bundle(bundle_file("stylegan2_ada", "train.json"), settings)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    record = {"model": "stylegan2_ada", "train_seconds": metrics["train_seconds"], "wall_seconds": round(wall, 2),
              "kimg": metrics["kimg"], "iterations": metrics["iterations"], "ada_p": metrics["ada_p"],
              "num_classes": metrics["num_classes"], "settings": _as_json(settings)}  # fmt: skip
    if "budget" in metrics:
        record["budget"] = metrics["budget"]
    write_json(record, run_dir / "run.json")
    return record


def train_medfusion(run_dir: Path, overrides: Mapping[str, Any], length: Mapping[str, Any]) -> dict[str, Any]:
    """Train the Medfusion bundle (evaluation during training off); return ``run.json``.

    Args:
        length: the run length as bundle keys: ``autoencoder_epochs`` and ``diffusion_epochs``, or
            ``budget_minutes`` (with ``autoencoder_budget_share``): each phase then times its first iterations on
            the real data, plans its epochs and stops on the clock if it runs over.
    """
    settings = {**overrides, **NO_EVALUATION, "output_dir": str(run_dir), **length}
    done = _reused(run_dir, settings)
    if done is not None:
        return done
    wall = run_bundle(bundle_file("medfusion", "train.json"), settings)
    finals = {p: load_state(run_dir / p / "final.pt") for p in ("autoencoder", "diffusion")}
    seconds = {f"{p}_seconds": round(float(s.get("train_seconds", s.get("seconds_last_run", 0.0))), 2)
               for p, s in finals.items()}  # fmt: skip
    record = {"model": "medfusion", "train_seconds": round(sum(seconds.values()), 2), **seconds,
              "wall_seconds": round(wall, 2), **dict(length),
              "num_classes": int(finals["diffusion"]["num_classes"]), "settings": _as_json(settings)}  # fmt: skip
    budgets = {p: s["budget"] for p, s in finals.items() if "budget" in s}
    if budgets:
        record["budget"] = budgets
        for p, b in budgets.items():
            record[f"{p}_epochs"] = int(b.get("planned_epochs", 0))
            if b.get("stopped_at_iteration"):
                record[f"{p}_stopped_at_iteration"] = int(b["stopped_at_iteration"])
    write_json(record, run_dir / "run.json")
    return record


def _complete(samples_dir: Path, num_samples: int) -> bool:
    manifest = samples_dir / "manifest.jsonl"
    return manifest.is_file() and len(manifest.read_text().splitlines()) == num_samples


def _timed_fresh(samples_dir: Path, num_samples: int, write: Any) -> float | None:
    """Run ``write()`` into an emptied ``samples_dir`` unless it is complete; the seconds sampling took.

    The seconds are kept beside the samples (``<samples_dir>.seconds.json``), so a rerun that skips the
    sampling reports them again (None for samples written before they were kept).
    """
    timing = samples_dir.with_name(f"{samples_dir.name}.seconds.json")
    if _complete(samples_dir, num_samples):
        return json.loads(timing.read_text())["seconds"] if timing.is_file() else None
    shutil.rmtree(samples_dir, ignore_errors=True)
    start = time.perf_counter()
    write()
    seconds = round(time.perf_counter() - start, 2)
    write_json({"seconds": seconds}, timing)
    return seconds


def sample_stylegan2(run_dir: Path, num_samples: int, overrides: Mapping[str, Any]) -> tuple[Path, float | None]:
    """``num_samples`` images from ``sample.json``, classes cycling (balanced); the folder and the seconds taken."""
    samples = run_dir / "samples"
    settings = {"checkpoint_dir": str(run_dir / "checkpoints"), "output_dir": str(samples),
                "num_samples": num_samples, "class_label": None, **overrides}  # fmt: skip
    config = bundle_file("stylegan2_ada", "sample.json")
    seconds = _timed_fresh(samples, num_samples, lambda: run_bundle(config, settings))
    return samples, seconds


def class_counts(num_samples: int, num_classes: int) -> list[int]:
    """Balanced split of ``num_samples`` over the classes (the first classes take the remainder)."""
    base, extra = divmod(num_samples, max(num_classes, 1))
    return [base + (1 if c < extra else 0) for c in range(max(num_classes, 1))]


def sample_medfusion(
    run_dir: Path, num_samples: int, num_classes: int, overrides: Mapping[str, Any]
) -> tuple[Path, float | None]:
    """Balanced samples from ``sample.json``, one call per class with its own seeds; folder and seconds."""
    samples = run_dir / "samples"
    seed = int(overrides.get("seed", 0))
    config = bundle_file("medfusion", "sample.json")

    def write() -> None:
        for c, count in enumerate(class_counts(num_samples, num_classes)):
            if count:
                per_class = {"num_samples": count, "class_label": c, "seed": seed + c * num_samples}
                folders = {"checkpoint_dir": str(run_dir), "output_dir": str(samples)}
                run_bundle(config, {**folders, **overrides, **per_class})

    return samples, _timed_fresh(samples, num_samples, write)
