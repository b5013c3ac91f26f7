"""Equal length for the StyleGAN2-ADA ablation: time a few iterations, then size every variant's run in kimg.

The ablation gives its four variants the same number of iterations (``kimg`` sized so that the ADA run fills
the budget). A calibration run is the bundle itself, with the same settings, on the real data, for 17
iterations (one lazy R1 step in 16, plus the first); its measured seconds per iteration turn the budget into
``kimg``. (``monai-synth compare`` needs equal seconds instead, and gives each bundle ``budget_minutes``: see
``monai_synth.engines.training_budget``.)
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


def plan_stylegan2(budget_seconds: float, timing: StepTiming, batch_size: int) -> dict[str, Any]:
    """``kimg`` (and its iterations) that fill ``budget_seconds`` at the measured rate (at least 1 iteration)."""
    iterations = max(1, math.floor(budget_seconds / timing.seconds_per_iteration))
    return {"kimg": iterations * batch_size / 1000.0, "iterations": iterations,
            "planned_seconds": round(iterations * timing.seconds_per_iteration, 2)}  # fmt: skip
