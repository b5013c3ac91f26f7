"""A trained Medfusion model as one sampling pipeline: ``pipeline(labels, seed) -> images``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from monai_synth.engines.medfusion.sampling import generate_images

__all__ = ["MedfusionPipeline"]

@dataclass(frozen=True)
class MedfusionPipeline:
    """Noise -> latent sampler with classifier-free guidance -> VAE decoder, for one trained model.

    Image ``k`` of a call starts from noise seeded ``seed + first_index + k`` (and a stochastic sampler's step
    noise from the same seed), so an image depends on its seed only, never on the batch it is made in.

    Args:
        model: the trained model: ``vae``, ``unet``, ``schedule`` and the latent settings (``latent_shape``,
            ``latent_scale``, ``latent_shift``, ``null_label``, ``prediction``): what ``load_medfusion`` returns.
        sampler / steps / eta / guidance_scale: sampling settings (see ``generate_images``); None takes the
            model's recorded ``sampling`` (what it was trained to be sampled with: ``train.json``'s ``sample``).
        device / precision / channels_last: where and how the networks run.
        clip_latents: clamp of the predicted clean latents (None: off).
    """

    model: Mapping[str, Any]
    sampler: str | None
    steps: int | None
    eta: float | None
    guidance_scale: float | None
    device: torch.device | str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    clip_latents: float | None = None
    info: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        needed = ("vae", "unet", "schedule", "latent_shape", "latent_scale", "null_label")
        missing = [k for k in needed if k not in self.model]
        if missing:
            raise ValueError(f"a Medfusion pipeline needs the trained model's {missing}")
        nets = ("vae", "unet", "schedule")
        object.__setattr__(self, "info", {k: v for k, v in self.model.items() if k not in nets})
        recorded = self.model.get("sampling") or {}
        for key, cast in (("sampler", str), ("steps", int), ("eta", float), ("guidance_scale", float)):
            value = getattr(self, key)
            if value is None:
                value = recorded.get(key)
                if value is None:
                    raise ValueError(f"{self.model.get('source', 'the model')} records no {key} to sample with "
                                     f"(no metrics.json#sampler); pass --{key}")
            object.__setattr__(self, key, cast(value))

    @property
    def num_classes(self) -> int:
        """Number of classes the model was trained on."""
        return int(self.model["null_label"])

    def settings(self) -> dict[str, Any]:
        """The sampling settings, as recorded in manifests and reports."""
        return {"sampler": self.sampler, "steps": int(self.steps), "eta": float(self.eta),
                "guidance_scale": float(self.guidance_scale)}  # fmt: skip

    def with_settings(self, **changes: Any) -> MedfusionPipeline:
        """The same model with other sampling settings (e.g. fewer steps for a preview)."""
        return replace(self, **changes)

    @torch.no_grad()
    def per_class(self, count: int, seed: int, batch_size: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` images of every class and their labels, on the CPU, class by class.

        Image ``i`` of class ``c`` is seeded ``seed + 1_000_000 * c + i`` whatever ``batch_size`` is, so sets drawn
        with other sampler settings (or from other models) start from the same noise, image by image.
        """
        images, labels = [], []
        for label in range(self.num_classes):
            for first in range(0, count, batch_size):
                k = min(batch_size, count - first)
                images.append(self(torch.full((k,), label), seed=seed + 1_000_000 * label, first_index=first).cpu())
                labels.append(torch.full((k,), label))
        if not images:
            return torch.zeros(0), torch.zeros(0, dtype=torch.long)
        return torch.cat(images), torch.cat(labels)

    @torch.no_grad()
    def __call__(self, labels: torch.Tensor, seed: int, first_index: int = 0, progress: bool = False) -> torch.Tensor:
        """``len(labels)`` images in [-1, 1] of the given classes, (B, C, H, W) on ``device``."""
        unet: nn.Module = self.model["unet"]
        was_training = unet.training
        unet.eval()
        try:
            return generate_images(
                self.model["vae"], unet, self.model["schedule"], labels, tuple(self.model["latent_shape"]),
                self.model["latent_scale"], int(self.model["null_label"]), sampler=self.sampler,
                steps=int(self.steps), eta=float(self.eta), guidance_scale=float(self.guidance_scale), seed=int(seed),
                first_index=int(first_index), prediction=self.model.get("prediction", "epsilon"),
                device=self.device, precision=self.precision, channels_last=self.channels_last, progress=progress,
                latent_shift=self.model.get("latent_shift", 0.0), clip_latents=self.clip_latents,
            )
        finally:
            unet.train(was_training)
