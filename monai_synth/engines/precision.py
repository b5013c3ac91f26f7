"""Mixed precision for every engine: one autocast context from a precision name ("fp32", "bf16", "fp16")."""

from __future__ import annotations

from contextlib import nullcontext

import torch

__all__ = ["autocast_for", "native_bf16"]


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on CPU or CUDA when ``precision == "bf16"``; fp16 autocast on CUDA for "fp16"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "fp16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return nullcontext()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 / AMX.

    Where it does, bf16 autocast is the faster setting (``benchmarks/bench_medfusion.py``: 1.6x fp32 on an AMX CPU).
    Elsewhere oneDNN emulates bf16 (not measured here), so the bundles' ``precision`` defaults fall back to fp32.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False
