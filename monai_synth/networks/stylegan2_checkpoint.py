"""StyleGAN2 checkpoints: find the latest, rebuild the generator, and transfer matching layers from another run.

A training checkpoint is one ``torch.save``d dict of state dicts (keys ``generator``, ``generator_ema``,
``discriminator``, ``generator_config``, optimisers, ...), loadable with ``torch.load(weights_only=True)``.
Transfer learning (Karras et al. 2020, StyleGAN2-ADA section 4; "Evaluating the Performance of StyleGAN2-ADA on
Medical Images", 2022) starts from a network trained elsewhere: every tensor whose name and shape match is
copied, the rest keeps its initialisation, and both lists are logged.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_synth.networks.stylegan2 import StyleGAN2Generator

logger = logging.getLogger(__name__)

_ITERATION = re.compile(r"checkpoint_(\d+)\.pt$")


def latest_stylegan2_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The ``*checkpoint_<iteration>.pt`` file with the highest iteration in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _ITERATION.search(p.name))]
    return max(found)[1] if found else None


def read_stylegan2_checkpoint(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """Read a checkpoint file, or the latest one in a folder (or its ``checkpoints/``), with ``weights_only=True``.

    Raises:
        FileNotFoundError: no such file, or a folder without checkpoints.
        ValueError: the file cannot be read as a checkpoint of state dicts.
    """
    path = Path(path)
    if path.is_dir():
        found = latest_stylegan2_checkpoint(path) or latest_stylegan2_checkpoint(path / "checkpoints")
        if found is None:
            raise FileNotFoundError(f"{path}: no '*checkpoint_<iteration>.pt' file in this folder.")
        path = found
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot read checkpoint ({e}).") from e
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a dict of state dicts, got {type(state).__name__}.")
    return path, state


def load_stylegan2_generator(
    path: str | os.PathLike, device: str | torch.device = "cpu", ema: bool = True,
    generator: StyleGAN2Generator | None = None,
) -> tuple[StyleGAN2Generator, Path]:
    """Rebuild the generator stored in a training checkpoint (file or folder) or an exported bundle folder.

    Args:
        path: checkpoint file, a folder whose latest checkpoint is used, or a bundle written by
            ``monai-synth export`` (its ``models/model.pt`` holds the EMA generator).
        device: where to put the network.
        ema: load the EMA weights (what samples should use) rather than the raw generator.
        generator: a generator to load the weights into (e.g. built by a bundle's ``network_def``); None:
            built from the stored ``generator_config``.

    Returns:
        The generator in eval mode and the file its weights came from.
    """
    from monai_synth.io.model_bundle import (
        bundle_weights_path,
        is_exported_bundle,
        read_bundle_settings,
        read_bundle_weights,
    )

    if is_exported_bundle(path):
        settings = read_bundle_settings(path)
        if settings["kind"] != "stylegan2_ada":
            raise ValueError(f"{path}: the bundle holds a {settings['kind']} model, not a StyleGAN2 generator")
        config, weights, path = settings["generator_config"], read_bundle_weights(path), bundle_weights_path(path)
    else:
        path, state = read_stylegan2_checkpoint(path)
        if "generator_config" not in state:
            raise ValueError(f"{path}: no 'generator_config' entry; not a StyleGAN2 training checkpoint.")
        config, weights = state["generator_config"], state["generator_ema" if ema and "generator_ema" in state else "generator"]
    generator = generator if generator is not None else StyleGAN2Generator(**config)
    generator.load_state_dict(weights)
    return generator.to(device).eval().requires_grad_(False), Path(path)


@dataclass
class TransferReport:
    """What ``load_matching_weights`` copied and what it left alone."""

    loaded: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    not_in_target: list[str] = field(default_factory=list)
    not_in_source: list[str] = field(default_factory=list)


@torch.no_grad()
def load_matching_weights(module: nn.Module, state_dict: dict[str, torch.Tensor], name: str = "") -> TransferReport:
    """Copy each tensor of ``state_dict`` into ``module`` where the name and shape match; log what did not.

    Args:
        module: network to initialise (modified in place).
        state_dict: source tensors.
        name: label used in the log lines.
    """
    target = module.state_dict()
    report = TransferReport()
    for key, value in state_dict.items():
        if key not in target:
            report.not_in_target.append(key)
        elif tuple(target[key].shape) != tuple(value.shape):
            report.shape_mismatch.append(f"{key} {tuple(value.shape)} -> {tuple(target[key].shape)}")
        else:
            target[key].copy_(value)
            report.loaded.append(key)
    report.not_in_source = [k for k in target if k not in state_dict]
    logger.info("transfer %s: loaded %d of %d tensors", name, len(report.loaded), len(target))
    for label, items in (
        ("shape mismatch, skipped", report.shape_mismatch),
        ("not in this network, skipped", report.not_in_target),
        ("not in the source, kept initialised", report.not_in_source),
    ):
        if items:
            logger.info("transfer %s: %s: %s", name, label, ", ".join(items))
    return report


def transfer_stylegan2_weights(path: str | os.PathLike, networks: dict[str, nn.Module]) -> dict[str, TransferReport]:
    """Initialise ``networks`` (keys ``generator``, ``generator_ema``, ``discriminator``) from a checkpoint.

    A missing ``generator_ema`` in the source is taken from its ``generator``. A file holding a bare state
    dict of tensors is loaded into the generator (and its EMA copy).
    """
    path, state = read_stylegan2_checkpoint(path)
    if state and all(isinstance(v, torch.Tensor) for v in state.values()):
        state = {"generator": state}
    if "generator_ema" not in state and "generator" in state:
        state["generator_ema"] = state["generator"]
    logger.info("transfer learning from %s", path)
    reports = {}
    for key, network in networks.items():
        if key in state:
            reports[key] = load_matching_weights(network, state[key], key)
        else:
            logger.info("transfer %s: not in %s, kept initialised", key, path)
    if not reports:
        raise ValueError(f"{path}: none of {sorted(networks)} in this checkpoint.")
    return reports
