"""Mixed precision for every engine: one autocast context from a precision name ("fp32", "bf16", "fp16")."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import torch

__all__ = ["autocast_for", "cpu_flags", "native_bf16"]


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on CPU or CUDA when ``precision == "bf16"``; fp16 autocast on CUDA for "fp16"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "fp16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return nullcontext()


#: x86 CPU flags (``/proc/cpuinfo``) of instructions that compute bfloat16 natively
NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "avx_ne_convert"})


def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (None where there is no such file, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return None


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 / AMX.

    Where it does, bf16 autocast is the faster setting (``benchmarks/bench_medfusion.py``: 1.6x fp32 on an AMX CPU).
    Elsewhere oneDNN emulates bf16, which is far slower than fp32 (Medfusion's autoencoder, forward and backward
    of 16 images at 64 px on an AVX2-only AMD EPYC: 21.0 s in bf16 against 0.76 s in fp32), so the bundles'
    precision defaults fall back to fp32. oneDNN also reports bf16 support on AVX512 CPUs that only emulate it,
    so on Linux the CPU's flags must name a native bf16 instruction as well.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without oneDNN
        return False
    flags = cpu_flags()
    return onednn and (flags is None or bool(flags & NATIVE_BF16_CPU_FLAGS))
