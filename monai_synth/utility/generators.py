"""Open a trained class-conditional generator (a Medfusion or StyleGAN2-ADA run folder, a StyleGAN2-ADA
``checkpoints/`` folder, or an exported bundle of either) as a
:class:`~monai_synth.metrics.utility.pool.GenerativeModel` that fills a utility study's pool.

Images are the ones ``sample.json`` writes for the same seed: Medfusion image ``k`` of a call starts from noise
seeded ``first_seed + k``; StyleGAN2-ADA's latent is drawn from that seed on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from monai_synth.data.errors import DataError
from monai_synth.engines.medfusion import load_medfusion
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.export.run_folder import detect_run_kind
from monai_synth.io import sha256_file
from monai_synth.io.bundle_configs import config_defaults
from monai_synth.io.model_bundle import is_exported_bundle, read_bundle_settings
from monai_synth.metrics.utility.pool import GenerativeModel
from monai_synth.networks.stylegan2_checkpoint import load_stylegan2_generator

__all__ = ["default_sampling", "is_restorer", "model_kind", "open_model"]

def default_sampling(kind: str) -> dict[str, Any]:
    """Sampling settings of ``kind`` (``"medfusion"``, ``"stylegan2_ada"``, ``"med_cdiff"``), read from
    ``bundles/<kind>/utility.json`` (``sampling``), the one place they live: the pool of a generator, the
    restorations of a Med-cDiff model."""
    return dict(config_defaults(kind, "utility.json", ["sampling"])["sampling"])


def is_restorer(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Med-cDiff run folder or exported bundle (a restorer: the segmentation study)."""
    if not os.path.isdir(path):
        return False
    if is_exported_bundle(path):
        return read_bundle_settings(path)["kind"] == "med_cdiff"
    try:
        return detect_run_kind(path) == "med_cdiff"
    except FileNotFoundError:
        return False


def model_kind(path: str | os.PathLike) -> str | None:
    """``"medfusion"`` / ``"stylegan2_ada"`` when ``path`` holds a trained generator; None for anything else.

    Raises:
        DataError: the path holds a Med-cDiff model (it restores images; it has no classes to generate: its
            utility is :class:`~monai_synth.utility.segmentation_study.SegmentationUtilityStudy`'s).
    """
    if not os.path.isdir(path):
        return None
    if is_exported_bundle(path):
        kind = read_bundle_settings(path)["kind"]
    else:
        try:
            kind = detect_run_kind(path)
        except FileNotFoundError:
            # a StyleGAN2-ADA checkpoints folder (what sample.json's checkpoint_dir names) is a generator too
            return "stylegan2_ada" if any(Path(path).glob("stylegan2_checkpoint_*.pt")) else None
    if kind == "med_cdiff":
        raise DataError("a Med-cDiff model restores images and has no classes to generate; the classification "
                        "utility needs a Medfusion or StyleGAN2-ADA model, or a folder of labelled synthetic images "
                        "(for a Med-cDiff model use SegmentationUtilityStudy, which monai-synth utility runs)", path)
    return kind


def _medfusion(path: Path, device: torch.device, sampling: Mapping[str, Any]) -> GenerativeModel:
    m = load_medfusion(path, device)
    pipeline = MedfusionPipeline(m, sampler=sampling.get("sampler"), steps=sampling.get("steps"), eta=sampling.get("eta"),
                                 guidance_scale=sampling.get("guidance_scale"), device=device,
                                 precision=sampling.get("precision") or "fp32")  # None: the run's own
    sampling = {**sampling, **pipeline.settings()}

    def generate(label: int, first_seed: int, count: int) -> torch.Tensor:
        labels = torch.full((count,), int(label), dtype=torch.long)
        return pipeline(labels, seed=int(first_seed)).float().clamp(-1, 1).cpu()

    return GenerativeModel(
        "medfusion", path, int(m["image_size"]), int(m["channels"]), int(m["num_classes"]),
        list(m.get("class_names") or []), m.get("intensity"), m["checkpoint_sha256"], dict(sampling), generate,
    )  # fmt: skip


def _stylegan2(path: Path, device: torch.device, sampling: Mapping[str, Any]) -> GenerativeModel:
    g, weights = load_stylegan2_generator(path, device)
    if not g.num_classes:
        raise DataError("the StyleGAN2-ADA generator is unconditional; utility needs class-conditional synthetic "
                        "images (train with class labels)", path)
    psi = float(sampling.get("truncation_psi", 1.0))

    @torch.no_grad()
    def generate(label: int, first_seed: int, count: int) -> torch.Tensor:
        z = torch.stack([torch.randn(g.z_dim, generator=torch.Generator().manual_seed(first_seed + k))
                         for k in range(count)])  # the latent of sample_to_folder's seed: same images
        lab = torch.full((count,), int(label), device=device)
        return g(z.to(device), lab, truncation_psi=psi, noise_mode="const").float().clamp(-1, 1).cpu()

    config = getattr(g, "init_kwargs", {}) or {}
    size = int(config.get("image_size", 0)) or None
    channels = int(config.get("image_channels", 1))
    if size is None:
        size = int(generate(0, 0, 1).shape[-1])
    return GenerativeModel("stylegan2_ada", path, size, channels, int(g.num_classes), [], None,
                           sha256_file(weights), dict(sampling), generate)  # fmt: skip


def open_model(path: str | os.PathLike, device: str | torch.device = "cpu",
               sampling: Mapping[str, Any] | None = None) -> GenerativeModel:  # fmt: skip
    """Load the generator of a run folder or exported bundle.

    Args:
        path: the run folder or bundle.
        device: where to run it.
        sampling: sampling settings overriding :func:`default_sampling` of its kind (None values are ignored).

    Raises:
        DataError: not a generator folder, a Med-cDiff model, or an unconditional StyleGAN2-ADA generator.
    """
    kind = model_kind(path)
    if kind is None:
        raise DataError("not a Medfusion or StyleGAN2-ADA run folder or exported bundle", path)
    defaults = default_sampling(kind)
    settings = {**defaults, **{k: v for k, v in (sampling or {}).items() if v is not None}}
    settings = {k: v for k, v in settings.items() if k in defaults}
    opener = _medfusion if kind == "medfusion" else _stylegan2
    with torch.no_grad():
        return opener(Path(path), torch.device(device), settings)
