"""Shared helpers of the audit tests: tiny image folders and a cheap stand-in for the Inception network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from monai_synth.metrics.features import iter_images
from monai_synth.metrics.preprocess import to_uint8

REPO = Path(__file__).resolve().parents[2]


class StubExtractor:
    """Deterministic 64-d "features" (8 x 8 average-pooled 8-bit pixels) with the Inception extractor's interface."""

    weights_path = "stub"
    weights_sha256 = "0" * 64

    def __init__(self) -> None:
        self.images_seen = 0

    def features(self, images, total=None, desc="") -> np.ndarray:
        rows = []
        for image in iter_images(images):
            x = to_uint8(image).float().mean(dim=0, keepdim=True)[None] / 255.0
            rows.append(F.adaptive_avg_pool2d(x, 8).flatten().numpy())
            self.images_seen += 1
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 64), np.float32)

    __call__ = features


def phantoms(seeds, size: int = 32) -> torch.Tensor:
    """Phantom radiographs ``(N, 1, size, size)`` in ``[-1, 1]``, one per seed."""
    from monai_synth.data.phantom import make_phantom

    return torch.tensor(np.stack([make_phantom(seed=int(s), size=size)["image"] for s in seeds])).float() * 2 - 1


def write_pngs(images: torch.Tensor, folder: Path, prefix: str = "img") -> Path:
    """Images ``(N, C, H, W)`` in ``[-1, 1]`` as 8-bit PNG files (grayscale or RGB)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        array = ((image.clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)
        Image.fromarray(array).save(folder / f"{prefix}_{i:03d}.png")
    return folder


class EmpiricalDenoiser(torch.nn.Module):
    """The optimal noise prediction for a finite set of latents: a diffusion model that has memorised them.

    For ``x_t = sqrt(ab) z + sqrt(1 - ab) eps`` with ``z`` drawn from the set, the posterior mean of ``z`` is a
    softmax over the set with logits ``-|x_t - sqrt(ab) z_i|^2 / (2 (1 - ab))``; the prediction is the noise it
    implies. Its loss is near zero on the memorised latents and large elsewhere.
    """

    def __init__(self, latents: torch.Tensor, schedule) -> None:
        super().__init__()
        self.register_buffer("latents", latents.flatten(1).double())
        self.shape = latents.shape[1:]
        self.schedule = schedule
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the module a device

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, class_labels=None) -> torch.Tensor:
        ab = self.schedule.alphas_cumprod[t].double()[:, None]
        x = x_t.flatten(1).double()
        d2 = ((x[:, None, :] - ab.sqrt()[:, None, :] * self.latents[None]) ** 2).sum(-1)
        weights = torch.softmax(-d2 / (2 * (1 - ab)), dim=1)
        z = weights @ self.latents
        eps = (x - ab.sqrt() * z) / (1 - ab).sqrt()
        return eps.view(x_t.shape).to(x_t.dtype)


def encode_latents(model: dict, images: torch.Tensor) -> torch.Tensor:
    """Latents of images as the membership attack computes them (VAE posterior mean, shifted and scaled)."""
    with torch.no_grad():
        mu, _ = model["vae"].encode(images)
    shift, scale = torch.as_tensor(model.get("latent_shift", 0.0)), torch.as_tensor(model["latent_scale"])
    view = (1, -1, 1, 1)
    return (mu.float() - (shift.view(view) if shift.ndim else shift)) * (scale.view(view) if scale.ndim else scale)
