"""Mixed precision for every engine: one autocast context from a precision name ("fp32", "bf16", "fp16")."""

from __future__ import annotations

from contextlib import nullcontext

import torch

__all__ = ["autocast_for"]


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on CPU or CUDA when ``precision == "bf16"``; fp16 autocast on CUDA for "fp16"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "fp16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return nullcontext()
