"""Small tensor helpers shared by the noise schedule and the samplers."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["append_dims", "randn_like", "clip_prediction"]


def append_dims(x: torch.Tensor, target_ndim: int) -> torch.Tensor:
    """Append trailing singleton dimensions so that ``x`` broadcasts against a ``target_ndim`` tensor.

    After k-diffusion's ``append_dims``: a per-sample coefficient of shape ``(B,)`` becomes
    ``(B, 1, 1, 1)`` for images and ``(B, 1, 1, 1, 1)`` for volumes, so the same code serves 2D and 3D.

    Args:
        x: tensor to expand, usually of shape ``(B,)``.
        target_ndim: number of dimensions of the tensor it must broadcast against.

    Returns:
        A view of ``x`` with ``target_ndim`` dimensions.

    Raises:
        ValueError: if ``x`` already has more than ``target_ndim`` dimensions.
    """
    missing = target_ndim - x.ndim
    if missing < 0:
        raise ValueError(f"append_dims: input has {x.ndim} dims but target_ndim is {target_ndim}, which is less.")
    return x[(...,) + (None,) * missing]


def randn_like(
    x: torch.Tensor, generator: torch.Generator | Sequence[torch.Generator] | None = None
) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn from ``generator`` when one is given.

    The noise is drawn on the generator's own device and then moved to ``x.device``, so a CPU
    generator with a given seed gives the same noise whether the model runs on CPU or GPU. A sequence
    of generators (one per sample, as NVlabs/edm's ``StackedRandomGenerator``) makes every sample of a
    batch depend on its own seed only, whatever the batch it is generated in.

    Args:
        x: tensor whose shape, dtype and device the noise takes.
        generator: one generator, one per sample (``len == x.shape[0]``), or ``None`` for torch's global one.

    Returns:
        Noise tensor of the same shape, dtype and device as ``x``.

    Raises:
        ValueError: if the number of generators differs from the batch size.
    """
    if generator is None:
        return torch.randn_like(x)
    if isinstance(generator, torch.Generator):
        return torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
    if len(generator) != x.shape[0]:
        raise ValueError(f"Got {len(generator)} generators for a batch of {x.shape[0]} samples.")
    return torch.stack([randn_like(x[i], g) for i, g in enumerate(generator)])


def clip_prediction(x0: torch.Tensor, clip_x0: float | tuple[float, float] | None) -> torch.Tensor:
    """Clamp a predicted clean sample ("static thresholding", Saharia et al. 2022).

    Args:
        x0: predicted clean sample.
        clip_x0: ``None`` leaves ``x0`` unchanged; a number ``c`` clamps to ``[-c, c]``; a pair
            ``(lo, hi)`` clamps to ``[lo, hi]``.

    Returns:
        The clamped prediction.

    Raises:
        ValueError: if the bound is not positive or the pair is not increasing.
    """
    if clip_x0 is None:
        return x0
    if isinstance(clip_x0, (int, float)):
        if clip_x0 <= 0:
            raise ValueError(f"clip_x0 must be positive, got {clip_x0}.")
        return x0.clamp(-float(clip_x0), float(clip_x0))
    lo, hi = clip_x0
    if not lo < hi:
        raise ValueError(f"clip_x0 must be (low, high) with low < high, got {clip_x0}.")
    return x0.clamp(float(lo), float(hi))
