"""Per-image denoising loss of a trained Medfusion model at fixed timesteps, with fixed per-image noise.

The score of the membership attack (:mod:`monai_synth.privacy.membership`). Every image is encoded by the
model's VAE (posterior mean, so no sampling noise), scaled as in training, noised at each timestep ``t`` with
noise drawn from the image's own seed, and denoised once by the UNet; the loss is the mean squared error of the
prediction against its training target (the noise, or ``v``). The noise of image ``i`` at timestep number ``k``
comes from a generator seeded by ``SeedSequence([seed, i, k])``, so the losses do not depend on the batch size
or on which other images are scored, and a rerun gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from monai_synth.seeding import noise_from_seeds

__all__ = ["timesteps_from_fractions", "image_noise_seeds", "MedfusionDenoisingLoss"]


def timesteps_from_fractions(fractions: Sequence[float], num_steps: int) -> list[int]:
    """Timesteps ``round(f T)`` (clipped to ``0..T-1``) of a schedule of ``T`` steps, for ``f`` in ``(0, 1]``.

    Raises:
        ValueError: a fraction outside ``(0, 1]``, or none given.
    """
    if not fractions:
        raise ValueError("membership attack: give at least one timestep fraction")
    bad = [f for f in fractions if not 0.0 < float(f) <= 1.0]
    if bad:
        raise ValueError(f"membership attack: timestep fractions must lie in (0, 1], got {bad}")
    return [min(num_steps - 1, max(0, round(float(f) * num_steps))) for f in fractions]


def image_noise_seeds(indices: Sequence[int], seed: int, step_number: int) -> list[int]:
    """One 32-bit seed per image for the noise of timestep number ``step_number`` (mixed by ``SeedSequence``)."""
    return [int(np.random.SeedSequence([int(seed), int(i), int(step_number), 0xA0D1]).generate_state(1)[0])
            for i in indices]


def _per_channel(value: float | Sequence[float], device: torch.device) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float32, device=device)
    return tensor.view(1, -1, 1, 1) if tensor.ndim else tensor


class MedfusionDenoisingLoss:
    """Loss of every image at fixed timesteps under a loaded Medfusion model.

    Args:
        model: what :func:`monai_synth.engines.medfusion.workflow.load_medfusion` returns (``vae``, ``unet``,
            ``schedule``, ``latent_scale``, ``latent_shift``, ``prediction``, ``num_classes``, ``null_label``).
        timestep_fractions: timesteps as fractions of the schedule length (:func:`timesteps_from_fractions`).
        seed: seed of the per-image noise.
        condition: ``"label"`` (each image's class, when it is one of the model's) or ``"null"`` (unconditional).
        batch_size: images per forward pass.
    """

    def __init__(self, model: dict, timestep_fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5), seed: int = 0,
                 condition: str = "label", batch_size: int = 64) -> None:
        if condition not in ("label", "null"):
            raise ValueError(f"condition must be 'label' or 'null', got {condition!r}")
        self.model, self.seed, self.condition, self.batch_size = model, int(seed), condition, max(1, int(batch_size))
        self.device = next(model["unet"].parameters()).device
        self.timesteps = timesteps_from_fractions(timestep_fractions, int(model["schedule"].num_steps))

    def _labels(self, labels: torch.Tensor | None, count: int) -> torch.Tensor:
        null = int(self.model["null_label"])
        if labels is None or self.condition == "null":
            return torch.full((count,), null, dtype=torch.long)
        labels = torch.as_tensor(labels, dtype=torch.long)
        known = (labels >= 0) & (labels < int(self.model["num_classes"]))
        return torch.where(known, labels, torch.full_like(labels, null))

    @torch.no_grad()
    def _batch(self, images: torch.Tensor, labels: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
        m, dev = self.model, self.device
        mu, _ = m["vae"].encode(images.to(dev))
        z0 = (mu.float() - _per_channel(m.get("latent_shift", 0.0), dev)) * _per_channel(m["latent_scale"], dev)
        y = labels.to(dev)
        losses = []
        for k, t in enumerate(self.timesteps):
            noise = noise_from_seeds(image_noise_seeds(indices, self.seed, k), tuple(z0.shape[1:]), dev)
            tt = torch.full((z0.shape[0],), t, dtype=torch.long, device=dev)
            out = m["unet"](m["schedule"].add_noise(z0, noise, tt), tt, class_labels=y).float()
            target = noise if m["prediction"] == "epsilon" else m["schedule"].velocity(z0, noise, tt)
            losses.append(F.mse_loss(out, target, reduction="none").flatten(1).mean(1))
        return torch.stack(losses, dim=1).cpu()

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
        """Losses ``(N, T)`` of images ``(N, C, H, W)`` in the training intensity scaling (``T`` timesteps)."""
        y = self._labels(labels, images.shape[0])
        out = [
            self._batch(images[s : s + self.batch_size], y[s : s + self.batch_size],
                        range(s, min(s + self.batch_size, images.shape[0])))
            for s in range(0, images.shape[0], self.batch_size)
        ]
        return torch.cat(out).double().numpy() if out else np.zeros((0, len(self.timesteps)))
