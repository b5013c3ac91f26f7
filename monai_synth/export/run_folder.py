"""Read a finished training run folder: which model it holds, its settings, its weights and its measured figures.

The three bundles leave different run folders:

- Medfusion (``bundles/medfusion/train.json``): ``autoencoder/final.pt`` and ``diffusion/final.pt`` (EMA UNet
  weights under ``unet_ema`` when EMA was on: sampling uses them), ``metrics.json``.
- Med-cDiff (``bundles/med_cdiff/train.json``): ``<model>/final.pt`` for each of ``diffusion``, ``pix2pix`` and
  ``srgan`` trained into the folder, ``<model>_metrics.json``.
- StyleGAN2-ADA (``bundles/stylegan2_ada/train.json``): ``checkpoints/stylegan2_checkpoint_<iteration>.pt`` (the
  latest holds the EMA generator under ``generator_ema``), ``metrics.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from monai_synth.engines.checkpoint import load_state
from monai_synth.io.json_values import json_ready
from monai_synth.networks.stylegan2_checkpoint import read_stylegan2_checkpoint

__all__ = ["KINDS", "TrainedRun", "detect_run_kind", "read_run"]

KINDS = ("medfusion", "med_cdiff", "stylegan2_ada")
MED_CDIFF_MODELS = ("diffusion", "pix2pix", "srgan")
# entries of final.pt that are weights, optimiser state or bookkeeping, not settings a loader needs
_NOT_SETTINGS = {"unet", "unet_ema", "network", "network_ema", "history", "metrics", "seconds_last_run",
                 "autoencoder", "discriminator", "optimizer", "opt_g", "opt_d", "ema"}


@dataclass
class TrainedRun:
    """What an export needs from a finished run.

    Attributes:
        kind: "medfusion" | "med_cdiff" | "stylegan2_ada".
        run_dir: the run folder.
        settings: plain-data settings the loaders need (the ``model_settings`` of the exported config).
        weights: state dicts to write, by file stem (``model``, plus ``autoencoder`` for Medfusion).
        metrics: the run's metrics file, as written by its training.
        inputs: the files and folders the export reads (an output folder may not lie inside one).
    """

    kind: str
    run_dir: Path
    settings: dict[str, Any]
    weights: dict[str, dict[str, torch.Tensor]]
    metrics: dict[str, Any]
    inputs: list[Path] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        """Med-cDiff's restoring model ("diffusion", "pix2pix", "srgan"); None for the other kinds."""
        return self.settings.get("model") if self.kind == "med_cdiff" else None


def detect_run_kind(run_dir: str | os.PathLike) -> str:
    """The kind of model a finished run folder holds.

    Raises:
        FileNotFoundError: the folder holds no finished run of any of the three bundles.
    """
    folder = Path(run_dir)
    if (folder / "autoencoder" / "final.pt").is_file() and (folder / "diffusion" / "final.pt").is_file():
        return "medfusion"
    if any((folder / m / "final.pt").is_file() for m in MED_CDIFF_MODELS):
        return "med_cdiff"
    if list((folder / "checkpoints").glob("stylegan2_checkpoint_*.pt")):
        return "stylegan2_ada"
    raise FileNotFoundError(
        f"{folder}: no finished training run here (expected autoencoder/ + diffusion/final.pt of Medfusion, "
        "<model>/final.pt of Med-cDiff, or checkpoints/stylegan2_checkpoint_*.pt of StyleGAN2-ADA)"
    )


def read_run(run_dir: str | os.PathLike, model: str | None = None) -> TrainedRun:
    """Read a finished run folder of any of the three bundles.

    Args:
        run_dir: the ``output_dir`` of a finished ``train.json``.
        model: Med-cDiff only: which trained model to export ("diffusion", "pix2pix", "srgan"); default the
            diffusion model when trained, else the only one.

    Raises:
        FileNotFoundError: no finished run, or no such Med-cDiff model in the folder.
        ValueError: ``model`` given for another kind, or ambiguous.
    """
    folder = Path(run_dir)
    kind = detect_run_kind(folder)
    if model is not None and kind != "med_cdiff":
        raise ValueError(f"{folder}: model={model!r} applies to Med-cDiff runs only; this is a {kind} run")
    if kind == "medfusion":
        return _read_medfusion(folder)
    if kind == "med_cdiff":
        return _read_med_cdiff(folder, model)
    return _read_stylegan2(folder)


def _metrics(path: Path) -> dict[str, Any]:
    """A run's metrics JSON (Python's reader: training writes NaN for undefined figures), or {} when absent."""
    if not path.is_file():
        return {}
    return json_ready(json.loads(path.read_text(encoding="utf-8")))


def _read_medfusion(folder: Path) -> TrainedRun:
    ae = load_state(folder / "autoencoder" / "final.pt")
    dm = load_state(folder / "diffusion" / "final.pt")
    settings = {"kind": "medfusion", "autoencoder_def": json_ready(ae["autoencoder_def"])}
    settings.update(json_ready({k: v for k, v in dm.items() if k not in _NOT_SETTINGS}))
    weights = {"model": dm.get("unet_ema", dm["unet"]), "autoencoder": ae["autoencoder"]}
    inputs = [folder / "autoencoder", folder / "diffusion", folder / "metrics.json"]
    return TrainedRun("medfusion", folder, settings, weights, _metrics(folder / "metrics.json"), inputs)


def _read_med_cdiff(folder: Path, model: str | None) -> TrainedRun:
    trained = [m for m in MED_CDIFF_MODELS if (folder / m / "final.pt").is_file()]
    if model is None:
        model = "diffusion" if "diffusion" in trained else trained[0]
    if model not in trained:
        raise FileNotFoundError(f"{folder / model / 'final.pt'}: no trained {model} model here (trained: {trained})")
    state = load_state(folder / model / "final.pt")
    settings = {"kind": "med_cdiff", **json_ready({k: v for k, v in state.items() if k not in _NOT_SETTINGS})}
    weights = {"model": state.get("network_ema", state["network"])}
    inputs = [folder / model, folder / f"{model}_metrics.json"]
    return TrainedRun("med_cdiff", folder, settings, weights, _metrics(folder / f"{model}_metrics.json"), inputs)


def _read_stylegan2(folder: Path) -> TrainedRun:
    path, state = read_stylegan2_checkpoint(folder / "checkpoints")
    settings = {"kind": "stylegan2_ada", "generator_config": json_ready(state["generator_config"])}
    weights = {"model": state.get("generator_ema", state["generator"])}
    inputs = [folder / "checkpoints", folder / "metrics.json"]
    return TrainedRun("stylegan2_ada", folder, settings, weights, _metrics(folder / "metrics.json"), inputs)
