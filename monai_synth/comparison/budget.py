"""Equal compute: time a few training iterations of each model, then size its run to a wall-clock budget.

A calibration run is the bundle itself, with the same settings, for a handful of iterations. Its measured
training seconds per iteration turn the budget into a run length that is written into the config (StyleGAN2:
``kimg``; Medfusion: ``autoencoder_epochs`` and ``diffusion_epochs``), so the real runs are ordinary,
deterministic, resumable bundle runs and their own measured seconds go into the table.

StyleGAN2 is calibrated on the real data for 17 iterations (one lazy R1 step in 16, plus the first). Medfusion
counts whole epochs, so it is calibrated on phantom images of the same size and channels, as many as make 8
diffusion batches: the cost of a step depends on the batch and image shape, not on the pixels.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from monai_synth.comparison.bundle_runs import read_setting, run_bundle
from monai_synth.io.bundle_configs import bundle_file
from monai_synth.engines.checkpoint import load_state
from monai_synth.seeding import iterations_per_epoch

NEVER = 10**9  # checkpoint / log interval that does not fire during a calibration run


@dataclass
class StepTiming:
    """Measured training seconds per iteration of one model (or phase)."""

    seconds_per_iteration: float
    iterations: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def _timing(seconds: float, iterations: int) -> StepTiming:
    return StepTiming(seconds / max(iterations, 1), int(iterations), round(float(seconds), 3))


def calibrate_stylegan2(workdir: Path, overrides: Mapping[str, Any], iterations: int = 17) -> StepTiming:
    """Train the StyleGAN2-ADA bundle for ``iterations`` on the same data and settings; seconds per iteration."""
    import json

    config = bundle_file("stylegan2_ada", "train.json")
    batch = int(read_setting(config, "batch_size", overrides))
    shutil.rmtree(workdir, ignore_errors=True)  # a calibration never resumes an older one
    run_bundle(config, {**overrides, "output_dir": str(workdir), "kimg": iterations * batch / 1000.0, "epochs": 1,
                        "evaluation#interval": 0, "evaluation#interval_kimg": 0, "checkpoint_every": NEVER,
                        "log_every": NEVER})  # fmt: skip
    metrics = json.loads((workdir / "metrics.json").read_text())
    return _timing(float(metrics["train_seconds"]), int(metrics["iterations"]))


def calibrate_medfusion(workdir: Path, overrides: Mapping[str, Any], batches: int = 8) -> dict[str, StepTiming]:
    """Train both Medfusion phases for one epoch on ``batches`` diffusion batches of phantom images.

    Returns:
        ``{"autoencoder": StepTiming, "diffusion": StepTiming}``.
    """
    config = bundle_file("medfusion", "train.json")
    batch = int(read_setting(config, "batch_size", overrides))
    ae_batch = int(read_setting(config, "autoencoder_batch_size", overrides))
    count = batches * max(batch, ae_batch)
    shutil.rmtree(workdir, ignore_errors=True)  # a calibration never resumes an older one
    run_bundle(config, {**overrides, "output_dir": str(workdir), "dataset_dir": "", "phantom_count": count,
                        "autoencoder_epochs": 1, "diffusion_epochs": 1, "adversarial_start_epoch": 0,
                        "evaluation#interval": 0, "sample#per_class": 1, "sample#steps": 1,
                        "checkpoint_every": NEVER})  # fmt: skip
    out = {}
    for phase, size in (("autoencoder", ae_batch), ("diffusion", batch)):
        seconds = float(load_state(workdir / phase / "final.pt")["seconds_last_run"])
        out[phase] = _timing(seconds, iterations_per_epoch(count, size))
    return out


def plan_stylegan2(budget_seconds: float, timing: StepTiming, batch_size: int) -> dict[str, Any]:
    """``kimg`` (and its iterations) that fill ``budget_seconds`` at the measured rate (at least 1 iteration)."""
    iterations = max(1, math.floor(budget_seconds / timing.seconds_per_iteration))
    return {"kimg": iterations * batch_size / 1000.0, "iterations": iterations,
            "planned_seconds": round(iterations * timing.seconds_per_iteration, 2)}  # fmt: skip


def plan_medfusion(
    budget_seconds: float,
    timings: Mapping[str, StepTiming],
    num_images: int,
    batch_size: int,
    autoencoder_batch_size: int,
    autoencoder_fraction: float = 0.25,
) -> dict[str, Any]:
    """Epochs of both phases that fill the budget, ``autoencoder_fraction`` of it for the autoencoder.

    Each phase gets at least one epoch, so a budget smaller than one epoch of each runs over: the table shows
    the measured seconds.
    """
    if not 0.0 < autoencoder_fraction < 1.0:
        raise ValueError(f"autoencoder_fraction must be in (0, 1), got {autoencoder_fraction}")
    plan: dict[str, Any] = {}
    planned = 0.0
    phases = (("autoencoder", autoencoder_batch_size, autoencoder_fraction),
              ("diffusion", batch_size, 1.0 - autoencoder_fraction))  # fmt: skip
    for phase, size, share in phases:
        per_epoch = iterations_per_epoch(num_images, size)
        epoch_seconds = per_epoch * timings[phase].seconds_per_iteration
        epochs = max(1, math.floor(budget_seconds * share / epoch_seconds))
        plan[f"{phase}_epochs"] = epochs
        planned += epochs * epoch_seconds
    plan["planned_seconds"] = round(planned, 2)
    return plan
