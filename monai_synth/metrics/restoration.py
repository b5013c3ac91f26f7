"""Restoration quality of image pairs (restored vs reference) in ``[-1, 1]``: PSNR, SSIM, MS-SSIM,
acutance, and LPIPS when its weights are present locally.

Definitions (per image pair, then averaged):

- PSNR = ``10 log10(L^2 / MSE)`` with the peak-to-peak range ``L = 2`` of ``[-1, 1]`` (the same number
  as ``L = 1`` on images mapped to ``[0, 1]``); identical images give ``inf``.
- SSIM, MS-SSIM: :mod:`monai_synth.metrics.ssim`.
- Acutance (sharpness of a single image), after Higgins and Jones (1952), who define it for an edge as
  the mean squared density gradient across the edge divided by the density difference across it.
  For a whole image ``I`` mapped to ``[0, 1]``::

      A(I) = mean_x( (dI/dx)^2 + (dI/dy)^2 ) / (q99(I) - q01(I))

  with derivatives by central differences in grey levels per pixel (``torch.gradient``, one-sided at the
  border), the mean over all pixels and channels, and the contrast the 1st-to-99th percentile range of
  ``I`` (0 when that range is below 1e-6). Report it for restored and reference images side by side:
  a restoration that blurs has the lower acutance.
- LPIPS: :mod:`monai_synth.metrics.lpips` (skipped with a message when its weights are absent).
"""

from __future__ import annotations

import os

import torch

from monai_synth.metrics.lpips import LpipsWeightsError, lpips_distance
from monai_synth.metrics.ssim import ms_ssim_pairs, ssim_pairs

__all__ = ["psnr", "acutance", "restoration_metrics"]


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """PSNR in dB of each pair of images (``(B, C, H, W)``, default range ``[-1, 1]``).

    Returns:
        ``(B,)`` float64 tensor (``inf`` where the images are equal).
    """
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    mse = (x.double() - y.double()).pow(2).reshape(x.shape[0], -1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def acutance(images: torch.Tensor) -> torch.Tensor:
    """Acutance of each image in ``[-1, 1]`` (``(B, C, H, W)``), as defined in the module docstring.

    Returns:
        ``(B,)`` float64 tensor.
    """
    unit = (images.double() + 1.0) / 2.0
    grad_y, grad_x = torch.gradient(unit, dim=(-2, -1))
    energy = (grad_x.pow(2) + grad_y.pow(2)).reshape(unit.shape[0], -1).mean(dim=1)
    flat = unit.reshape(unit.shape[0], -1)
    contrast = torch.quantile(flat, 0.99, dim=1) - torch.quantile(flat, 0.01, dim=1)
    return torch.where(contrast > 1e-6, energy / contrast.clamp_min(1e-6), torch.zeros_like(energy))


def restoration_metrics(
    restored: torch.Tensor, reference: torch.Tensor, lpips_weights: dict[str, str | os.PathLike] | None = None
) -> dict[str, float | str | None]:
    """Mean PSNR, SSIM, MS-SSIM, acutance (restored and reference) and LPIPS over pairs of images.

    Args:
        restored: ``(B, C, H, W)`` in ``[-1, 1]``.
        reference: same shape.
        lpips_weights: ``{"backbone": path, "lin": path}`` for LPIPS (``None``: environment variables and
            local caches, see :func:`monai_synth.metrics.lpips.resolve_lpips_weights`).

    Returns:
        ``psnr``, ``ssim``, ``ms_ssim``, ``acutance``, ``acutance_reference``, ``lpips`` (``None`` when
        skipped) and ``lpips_skipped`` (the reason, or ``None``).
    """
    out: dict[str, float | str | None] = {
        "psnr": float(psnr(restored, reference).mean()),
        "ssim": float(ssim_pairs(restored, reference).mean()),
        "ms_ssim": float(ms_ssim_pairs(restored, reference).mean()),
        "acutance": float(acutance(restored).mean()),
        "acutance_reference": float(acutance(reference).mean()),
        "lpips": None,
        "lpips_skipped": None,
    }
    try:
        out["lpips"] = float(lpips_distance(restored, reference, weights=lpips_weights).mean())
    except LpipsWeightsError as err:
        out["lpips_skipped"] = str(err)
    return out
