"""SSIM and MS-SSIM of image pairs in ``[-1, 1]``, on MONAI's implementation, with a rule for small images.

Images are mapped to ``[0, 1]`` (``(x + 1) / 2``) and compared with ``data_range = 1``, Gaussian window
``sigma = 1.5``, ``K1 = 0.01``, ``K2 = 0.03`` (Wang et al. 2004), valid (unpadded) filtering, mean over
the map and the channels (``monai.metrics.compute_ssim_and_cs`` / ``compute_ms_ssim``).

MS-SSIM (Wang, Simoncelli and Bovik 2003) uses 5 scales with weights
``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`` and an 11-pixel window, which needs the coarsest scale
(side / 16) to be larger than 10 pixels, i.e. a side of at least 176. Below that we keep the window and
the finest scales and drop scales, as the multi-scale idea allows:

- smallest side ``s >= 176``: 5 scales, the standard weights, 11-pixel window (the standard MS-SSIM);
- ``44 <= s < 176``: 3 scales, the first three weights renormalised to sum 1
  ``(0.0710, 0.4530, 0.4760)``, 11-pixel window;
- ``12 <= s < 44``: 3 scales, the same weights, window = largest odd size ``<= s // 4``.

e.g. 28 px (MedMNIST): 3 scales (28, 14, 7 px), 7-pixel window; 64 px: 3 scales, 11-pixel window.
SSIM uses the 11-pixel window, shrunk to the largest odd size ``<= s`` for images smaller than 11.
"""

from __future__ import annotations

import torch
from monai.metrics import compute_ms_ssim, compute_ssim_and_cs

__all__ = ["MS_SSIM_WEIGHTS", "ms_ssim_settings", "ssim_pairs", "ms_ssim_pairs"]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SIGMA = 1.5


def _largest_odd(limit: int) -> int:
    return limit if limit % 2 else limit - 1


def ms_ssim_settings(height: int, width: int) -> tuple[int, tuple[float, ...]]:
    """Window size and scale weights used for MS-SSIM at a given image size (see the module table).

    Args:
        height: image height.
        width: image width.

    Returns:
        ``(kernel_size, weights)``.

    Raises:
        ValueError: when the image is smaller than 12 pixels.
    """
    side = min(height, width)
    if side >= 176:
        return 11, MS_SSIM_WEIGHTS
    if side < 12:
        raise ValueError(f"MS-SSIM needs images of at least 12 x 12 pixels, got {height} x {width}")
    total = sum(MS_SSIM_WEIGHTS[:3])
    weights = tuple(w / total for w in MS_SSIM_WEIGHTS[:3])
    return min(11, _largest_odd(side // 4)), weights


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x.float() + 1.0) / 2.0


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"need two batches (B, C, H, W) of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def ssim_pairs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """SSIM of each pair ``(x[i], y[i])`` of images in ``[-1, 1]``.

    Args:
        x: ``(B, C, H, W)``.
        y: ``(B, C, H, W)``.

    Returns:
        ``(B,)`` float tensor.
    """
    _check_pair(x, y)
    k = min(11, _largest_odd(min(x.shape[-2:])))
    ssim, _ = compute_ssim_and_cs(_unit(x), _unit(y), spatial_dims=2, kernel_size=(k, k), kernel_sigma=(_SIGMA, _SIGMA))
    return ssim.reshape(ssim.shape[0], -1).mean(dim=1)


def ms_ssim_pairs(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each pair ``(x[i], y[i])`` of images in ``[-1, 1]`` (settings from :func:`ms_ssim_settings`).

    Args:
        x: ``(B, C, H, W)``.
        y: ``(B, C, H, W)``.

    Returns:
        ``(B,)`` float tensor.
    """
    _check_pair(x, y)
    kernel, weights = ms_ssim_settings(*x.shape[-2:])
    value = compute_ms_ssim(
        _unit(x), _unit(y), spatial_dims=2, kernel_size=kernel, kernel_sigma=_SIGMA, weights=weights
    )
    return value.reshape(-1)
