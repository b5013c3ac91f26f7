"""One read image as a plain tensor with the channel count a model takes."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["match_channels"]


def match_channels(image: Any, channels: int) -> torch.Tensor:
    """``image`` (C, H, W; a MONAI ``MetaTensor``, array or tensor) as a float tensor with ``channels`` channels.

    Several channels become one by their mean (RGB to grey); one channel becomes three by repetition; any other
    combination is returned unchanged.
    """
    image = torch.as_tensor(image).float()
    image = image.as_tensor() if hasattr(image, "as_tensor") else image
    if channels == 1 and image.shape[0] != 1:
        return image.mean(0, keepdim=True)
    if channels == 3 and image.shape[0] == 1:
        return image.expand(3, -1, -1)
    return image
