"""Read an exported model bundle (model-zoo layout) without importing any model code.

An exported bundle (``monai_synth.export``) holds ``configs/inference.json``, ``configs/metadata.json`` and the
weights as plain state dicts under ``models/`` (``model.pt``, plus ``autoencoder.pt`` for Medfusion). The
settings a loader needs besides the weights (what ``final.pt`` of a training run stores next to its weights:
network arguments, noise schedule, latent scaling, intensity window, class names...) are the plain-data entry
``model_settings`` of ``configs/inference.json``. The engines' loaders (``load_medfusion``, ``load_restorer``,
``load_stylegan2_generator``) read a bundle through these functions, so a bundle folder works wherever a run
folder does. This module sits below the engines and imports none of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "SETTINGS_KEY",
    "INFERENCE_CONFIG",
    "is_exported_bundle",
    "read_bundle_settings",
    "read_bundle_sampling",
    "read_bundle_weights",
    "bundle_weights_path",
]

SETTINGS_KEY = "model_settings"
INFERENCE_CONFIG = Path("configs") / "inference.json"


def bundle_weights_path(bundle_dir: str | os.PathLike, name: str = "model") -> Path:
    """``<bundle_dir>/models/<name>.pt``."""
    return Path(bundle_dir) / "models" / f"{name}.pt"


def is_exported_bundle(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding an exported monai_synth bundle (inference config and weights)."""
    folder = Path(path)
    return folder.is_dir() and (folder / INFERENCE_CONFIG).is_file() and bundle_weights_path(folder).is_file()


SAMPLING_KEYS = ("sampler", "steps", "eta", "guidance_scale", "precision", "strength", "truncation_psi")


def read_bundle_sampling(bundle_dir: str | os.PathLike) -> dict[str, Any]:
    """The sampling settings a bundle's ``configs/inference.json`` sets to plain values (``sampler``, ``steps``,
    ``eta``...): the defaults of its pipeline. Expressions and references (``$...``, ``@...``) are left out."""
    config = json.loads((Path(bundle_dir) / INFERENCE_CONFIG).read_text(encoding="utf-8"))
    return {k: config[k] for k in SAMPLING_KEYS
            if k in config and config[k] is not None and not str(config[k]).startswith(("$", "@"))}


def read_bundle_settings(bundle_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``model_settings`` of a bundle's ``configs/inference.json`` (``kind`` plus the loaders' settings).

    Raises:
        FileNotFoundError: no ``configs/inference.json``.
        ValueError: the file is not JSON or has no ``model_settings`` object.
    """
    path = Path(bundle_dir) / INFERENCE_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no inference config; not an exported monai_synth bundle")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e
    settings = config.get(SETTINGS_KEY) if isinstance(config, dict) else None
    if not isinstance(settings, dict) or "kind" not in settings:
        raise ValueError(f"{path}: no '{SETTINGS_KEY}' object with a 'kind'; not exported by monai_synth")
    return settings


def read_bundle_weights(bundle_dir: str | os.PathLike, name: str = "model",
                        map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The state dict ``models/<name>.pt`` of a bundle, loaded with ``weights_only=True``.

    Raises:
        FileNotFoundError: naming the missing file.
        ValueError: the file is not a state dict.
    """
    path = bundle_weights_path(bundle_dir, name)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing weights file of the exported bundle")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot read weights ({e})") from e
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state
