"""Use an exported bundle from Python: ``load_exported(bundle_dir) -> ExportedBundle``.

For applications built on exported bundles (e.g. MONAI Deploy apps): the model kind and task, the settings
inference needs, the hash of the weights, and either ``generate(labels, seeds)`` (Medfusion, StyleGAN2-ADA) or
``restorer`` (Med-cDiff: the same :class:`~monai_synth.engines.med_cdiff.restorer.Restorer` that
``load_restorer`` returns for a run folder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from monai_synth.engines.checkpoint import sha256_of
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.engines.med_cdiff.restorer import load_restorer
from monai_synth.engines.medfusion import load_medfusion
from monai_synth.engines.medfusion.sample import window_of
from monai_synth.io.model_bundle import (
    bundle_weights_path,
    is_exported_bundle,
    read_bundle_sampling,
    read_bundle_settings,
)
from monai_synth.networks.stylegan2_checkpoint import load_stylegan2_generator
from monai_synth.transforms import WINDOW_PRESETS

__all__ = ["ExportedBundle", "load_exported"]


@dataclass
class ExportedBundle:
    """A loaded exported bundle.

    Attributes:
        path: the bundle folder.
        kind: "medfusion" | "med_cdiff" | "stylegan2_ada".
        task: Med-cDiff's "sr" | "denoise" | "inpaint"; None for the generative kinds.
        settings: what inference needs: ``image_size``, ``channels``, ``num_classes``, ``class_names``,
            ``intensity`` (the training normalisation; None when not recorded), ``window`` ((level, width) of
            the CT window, or None), ``sampler`` (the bundle's default sampling settings), and for Med-cDiff
            ``model``.
        model_sha256: SHA-256 of ``models/model.pt``.
        metadata: ``configs/metadata.json``.
        network: the main network with its trained weights, in eval mode.
        restorer: Med-cDiff's restorer (None for the other kinds).
        device: where the networks are.
    """

    path: Path
    kind: str
    task: str | None
    settings: dict[str, Any]
    model_sha256: str
    metadata: dict[str, Any]
    network: torch.nn.Module
    restorer: Any = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _model: dict[str, Any] | None = field(default=None, repr=False)

    @torch.no_grad()
    def generate(self, labels: Sequence[int] | torch.Tensor, seeds: Sequence[int], **sampling: Any) -> torch.Tensor:
        """Generate one image per (label, seed): a tensor ``(N, C, H, W)`` in [-1, 1], on the CPU.

        Image ``k`` equals the first image that the bundle's ``inference.json`` writes with ``class_label =
        labels[k]`` and ``seed = seeds[k]`` (StyleGAN2-ADA: the image of seed ``seeds[k]`` in any run). Medfusion
        takes ``sampler``, ``steps``, ``eta``, ``guidance_scale`` and ``precision`` overrides (default: the
        bundle's); StyleGAN2-ADA takes ``truncation_psi``.

        Raises:
            TypeError: for a Med-cDiff bundle (use ``restorer``).
            ValueError: labels and seeds of different lengths, or a label out of range.
        """
        labels = [int(v) for v in (labels.tolist() if isinstance(labels, torch.Tensor) else labels)]
        if len(labels) != len(seeds):
            raise ValueError(f"got {len(labels)} labels and {len(seeds)} seeds; give one seed per image")
        n = int(self.settings["num_classes"])
        if any(not 0 <= v < max(n, 1) for v in labels):
            raise ValueError(f"labels must be in 0..{max(n, 1) - 1} for the model in {self.path}, got {labels}")
        if self.kind == "medfusion":
            return self._generate_medfusion(labels, seeds, sampling)
        if self.kind == "stylegan2_ada":
            return self._generate_stylegan2(labels, seeds, float(sampling.get("truncation_psi", 1.0)))
        raise TypeError(f"{self.path}: a Med-cDiff bundle restores images; use .restorer(condition, seeds)")

    def _generate_medfusion(self, labels: list[int], seeds: Sequence[int], sampling: dict[str, Any]) -> torch.Tensor:
        m = self._model or {}
        opts = {**self.settings["sampler"], **sampling}
        pipeline = MedfusionPipeline(m, opts["sampler"], int(opts["steps"]), float(opts["eta"]),
                                     float(opts["guidance_scale"]), self.device, opts.get("precision", "fp32"))
        # one call per image: an image depends on its own seed only
        images = [pipeline(torch.tensor([label]), seed=int(seed)).cpu() for label, seed in zip(labels, seeds)]
        return torch.cat(images)

    def _generate_stylegan2(self, labels: list[int], seeds: Sequence[int], psi: float) -> torch.Tensor:
        g = self.network
        z = torch.stack([torch.randn(g.z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])
        lab = torch.tensor(labels, device=self.device) if g.num_classes else None
        return g(z.to(self.device), lab, truncation_psi=psi, noise_mode="const").float().clamp(-1, 1).cpu()


def load_exported(bundle_dir: str | os.PathLike, device: str | torch.device = "cpu") -> ExportedBundle:
    """Load an exported bundle (``monai-synth export`` or a finished training's ``<output_dir>/bundle``).

    Raises:
        FileNotFoundError: ``bundle_dir`` is not an exported bundle.
        ValueError: unreadable files.
    """
    path = Path(bundle_dir)
    if not is_exported_bundle(path):
        raise FileNotFoundError(f"{path}: not an exported bundle (no configs/inference.json and models/model.pt)")
    device = torch.device(device)
    s = read_bundle_settings(path)
    meta = json.loads((path / "configs" / "metadata.json").read_text(encoding="utf-8"))
    defaults = read_bundle_sampling(path)
    common = {"path": path, "kind": s["kind"], "model_sha256": sha256_of(bundle_weights_path(path)),
              "metadata": meta, "device": device}
    if s["kind"] == "medfusion":
        model = load_medfusion(path, device)
        settings = _settings(s, s["image_size"], s["channels"], s["num_classes"], s.get("intensity"), defaults)
        settings["window"] = window_of(s.get("intensity"))
        return ExportedBundle(task=None, settings=settings, network=model["unet"], _model=model, **common)
    if s["kind"] == "stylegan2_ada":
        g = s["generator_config"]
        generator, _ = load_stylegan2_generator(path, device)
        settings = _settings(s, g["image_size"], g.get("image_channels", 1), g.get("num_classes", 0), None, defaults)
        return ExportedBundle(task=None, settings=settings, network=generator, **common)
    restorer = load_restorer(path, s["model"], device, defaults.get("sampler"), defaults.get("steps"), defaults.get("eta"),
                             defaults.get("strength"))  # unset in the bundle's inference.json: infer.json's defaults
    settings = _settings(s, s["image_size"], s["channels"], 0, s.get("intensity"), defaults)
    settings["model"] = s["model"]
    return ExportedBundle(task=s["task"], settings=settings, network=restorer.net, restorer=restorer, **common)


def _settings(s: dict[str, Any], size: int, channels: int, num_classes: int, intensity: dict | None,
              sampler: dict[str, Any]) -> dict[str, Any]:
    window = (intensity or {}).get("window")
    if isinstance(window, str):
        window = WINDOW_PRESETS[window]
    return {"image_size": int(size), "channels": int(channels), "num_classes": int(num_classes),
            "class_names": list(s.get("class_names") or []), "intensity": intensity,
            "window": tuple(window) if window else None, "sampler": sampler}
