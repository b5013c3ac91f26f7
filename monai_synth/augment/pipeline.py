"""Differentiable discriminator augmentation (ADA), applied to every image the discriminator sees.

After Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020), section 2
and appendix B: each augmentation is applied to each image independently with probability p, so that, for p
below about 0.8, the augmentations do not leak into the generated images. All geometric augmentations of an
image are composed into one affine matrix and applied once with ``grid_sample`` (bilinear, reflection
padding); colour augmentations are affine in the pixel values; cutout multiplies by a mask. Every operation
is differentiable with respect to the images, so the generator receives gradients through it.

Written here from the paper in plain PyTorch; the magnitudes are the paper's (appendix B.1) unless overridden.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from monai_synth.augment.matrices import rotate2d, rotate90_2d, scale2d, translate2d

GEOMETRIC_OPS = ("xflip", "rotate90", "translate", "scale", "rotate", "aniso", "translate_frac")
COLOR_OPS = ("brightness", "contrast", "saturation")
AUGMENT_OPS = GEOMETRIC_OPS + COLOR_OPS + ("cutout",)
# ADA's "bgc" set (blit + geometric + colour), the one the paper recommends, without hue/luma flip.
DEFAULT_AUGMENT_OPS = GEOMETRIC_OPS + COLOR_OPS

DEFAULT_STRENGTHS: dict[str, float] = {
    "translate_max": 0.125,  # integer translation, fraction of the image size (uniform)
    "scale_std": 0.2,  # isotropic scaling, log2 standard deviation
    "rotate_max": 1.0,  # arbitrary rotation, fraction of pi (uniform)
    "aniso_std": 0.2,  # anisotropic scaling, log2 standard deviation
    "translate_std": 0.125,  # fractional translation, fraction of the image size (normal)
    "brightness_std": 0.2,  # added to images in [-1, 1]
    "contrast_std": 0.5,  # log2 standard deviation of the multiplier
    "saturation_std": 1.0,  # log2 standard deviation (3-channel images only)
    "cutout_size": 0.5,  # side of the square hole, fraction of the image size
}


class AdaptiveAugmentPipeline(nn.Module):
    """Apply each enabled augmentation to each image with probability ``p`` (a buffer, saved in state dicts).

    Args:
        ops: names from ``AUGMENT_OPS`` to enable.
        p: initial probability (an ``AdaptiveAugmentProbability`` adjusts it during training).
        strengths: overrides of ``DEFAULT_STRENGTHS``.

    Example:
        >>> pipe = AdaptiveAugmentPipeline(p=0.5)
        >>> out = pipe(torch.zeros(4, 1, 16, 16))
    """

    def __init__(
        self,
        ops: Sequence[str] = DEFAULT_AUGMENT_OPS,
        p: float = 0.0,
        strengths: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        unknown = sorted(set(ops) - set(AUGMENT_OPS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {unknown}; choose from {list(AUGMENT_OPS)}.")
        bad = sorted(set(strengths or {}) - set(DEFAULT_STRENGTHS))
        if bad:
            raise ValueError(f"unknown strength(s) {bad}; choose from {list(DEFAULT_STRENGTHS)}.")
        self.ops = tuple(op for op in AUGMENT_OPS if op in ops)
        self.strengths = {**DEFAULT_STRENGTHS, **(strengths or {})}
        self.register_buffer("p", torch.tensor(float(p)))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch (B, C, H, W); identity when p == 0. ``generator`` makes the draws reproducible."""
        p = float(self.p)
        if p <= 0.0 or not self.ops:
            return images
        draw = _Draws(images.shape[0], images.device, images.dtype, generator)
        matrix = self._geometric_matrix(draw, p, images.shape[-2:])
        if matrix is not None:
            images = _warp(images, matrix)
        images = self._color(images, draw, p)
        if "cutout" in self.ops:
            images = self._cutout(images, draw, p)
        return images

    def _geometric_matrix(self, draw: _Draws, p: float, size: torch.Size) -> torch.Tensor | None:
        """Compose the enabled geometric augmentations into one (B, 3, 3) matrix, or None if none apply."""
        s, ops = self.strengths, self.ops
        height, width = size
        m = None

        def compose(t: torch.Tensor) -> None:
            nonlocal m
            m = t if m is None else m @ t

        if "xflip" in ops:
            flip = draw.integers(2, p).to(draw.dtype)
            compose(scale2d(1.0 - 2.0 * flip, torch.ones_like(flip)))
        if "rotate90" in ops:
            compose(rotate90_2d(draw.integers(4, p), draw.dtype))
        if "translate" in ops:
            t = (draw.uniform(2) * 2 - 1) * s["translate_max"] * draw.mask(p)[:, None]
            px = torch.round(t * torch.tensor([width, height], dtype=draw.dtype, device=draw.device))
            compose(translate2d(2 * px[:, 0] / width, 2 * px[:, 1] / height))
        if "scale" in ops:
            f = draw.lognormal(s["scale_std"], p)
            compose(scale2d(f, f))
        p_rot = 1.0 - math.sqrt(max(0.0, 1.0 - min(p, 1.0)))  # applied twice: total probability p
        if "rotate" in ops:
            compose(rotate2d((draw.uniform(1)[:, 0] * 2 - 1) * math.pi * s["rotate_max"] * draw.mask(p_rot)))
        if "aniso" in ops:
            f = draw.lognormal(s["aniso_std"], p)
            compose(scale2d(f, 1.0 / f))
        if "rotate" in ops:
            compose(rotate2d((draw.uniform(1)[:, 0] * 2 - 1) * math.pi * s["rotate_max"] * draw.mask(p_rot)))
        if "translate_frac" in ops:
            t = draw.normal(2) * s["translate_std"] * 2 * draw.mask(p)[:, None]
            compose(translate2d(t[:, 0], t[:, 1]))
        if m is None or torch.equal(m, torch.eye(3, dtype=m.dtype, device=m.device).expand_as(m)):
            return None
        return m

    def _color(self, images: torch.Tensor, draw: _Draws, p: float) -> torch.Tensor:
        """Brightness (additive), contrast (multiplicative about 0) and saturation (3 channels only)."""
        s, ops = self.strengths, self.ops
        if "brightness" in ops:
            images = images + (draw.normal(1)[:, 0] * s["brightness_std"] * draw.mask(p)).reshape(-1, 1, 1, 1)
        if "contrast" in ops:
            images = images * draw.lognormal(s["contrast_std"], p).reshape(-1, 1, 1, 1)
        if "saturation" in ops and images.shape[1] == 3:
            mean = images.mean(dim=1, keepdim=True)
            images = mean + (images - mean) * draw.lognormal(s["saturation_std"], p).reshape(-1, 1, 1, 1)
        return images

    def _cutout(self, images: torch.Tensor, draw: _Draws, p: float) -> torch.Tensor:
        """Zero a square of side ``cutout_size`` (fraction of the image) at a uniform random centre."""
        height, width = images.shape[-2:]
        centre = draw.uniform(2)
        apply = draw.mask(p) > 0
        half = self.strengths["cutout_size"] / 2
        ys = (torch.arange(height, device=images.device, dtype=images.dtype) + 0.5) / height
        xs = (torch.arange(width, device=images.device, dtype=images.dtype) + 0.5) / width
        outside_y = (ys[None, :] - centre[:, 1:2]).abs() >= half  # (B, H)
        outside_x = (xs[None, :] - centre[:, 0:1]).abs() >= half  # (B, W)
        keep = outside_y[:, :, None] | outside_x[:, None, :] | ~apply[:, None, None]
        return images * keep[:, None].to(images.dtype)

    def extra_repr(self) -> str:
        return f"ops={list(self.ops)}, p={float(self.p):.4f}"


def _warp(images: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Resample images at ``matrix @ (x, y, 1)`` for each output pixel (bilinear, reflection padding)."""
    grid = F.affine_grid(matrix[:, :2, :], list(images.shape), align_corners=False)
    dtype = torch.promote_types(images.dtype, grid.dtype)
    out = F.grid_sample(
        images.to(dtype), grid.to(dtype), mode="bilinear", padding_mode="reflection", align_corners=False
    )
    return out.to(images.dtype)


class _Draws:
    """Per-image random draws on one device/dtype from one optional generator."""

    def __init__(
        self, batch: int, device: torch.device, dtype: torch.dtype, generator: torch.Generator | None
    ) -> None:
        self.batch, self.device, self.generator = batch, device, generator
        self.dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32

    def uniform(self, n: int) -> torch.Tensor:
        return torch.rand(self.batch, n, device=self.device, dtype=self.dtype, generator=self.generator)

    def normal(self, n: int) -> torch.Tensor:
        return torch.randn(self.batch, n, device=self.device, dtype=self.dtype, generator=self.generator)

    def integers(self, high: int, p: float) -> torch.Tensor:
        """Uniform integers in [0, high) where the augmentation applies (probability p), else 0."""
        k = torch.randint(0, high, (self.batch,), device=self.device, generator=self.generator)
        return k * (self.uniform(1)[:, 0] < p)

    def mask(self, p: float) -> torch.Tensor:
        """1.0 where the augmentation applies (probability p), else 0.0."""
        return (self.uniform(1)[:, 0] < p).to(self.dtype)

    def lognormal(self, log2_std: float, p: float) -> torch.Tensor:
        """2^(N(0, log2_std^2)) where the augmentation applies, else 1."""
        return torch.exp2(self.normal(1)[:, 0] * log2_std * self.mask(p))
