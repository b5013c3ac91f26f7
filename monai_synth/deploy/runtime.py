"""Make the App SDK (Holoscan) start on a CPU machine without the user setting anything up.

Holoscan's Python modules link against ``libcudart.so.12`` even on its CPU-only data path; the wheel
``nvidia-cuda-runtime-cu12`` (in the ``.[deploy]`` extra) ships it, but not where the loader looks. It is
preloaded here (``RTLD_GLOBAL``) before ``monai.deploy`` is imported. Holoscan's threads also want a larger
stack than the usual 8 MiB (``ulimit -s 32768``): the limit is raised and the process started again once,
because thread stacks take their size from the limit at process start.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import resource
import sys
from pathlib import Path

__all__ = ["STACK_BYTES", "preload_cuda_runtime", "raise_stack_limit_and_restart", "require_sdk"]

STACK_BYTES = 32 * 1024 * 1024
_RESTARTED = "MONAI_SYNTH_STACK_RAISED"


def preload_cuda_runtime() -> Path | None:
    """Load ``libcudart.so.12`` from the ``nvidia-cuda-runtime-cu12`` wheel, if installed; returns its path."""
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for library in sorted(Path(folder, "lib").glob("libcudart.so.12*")):
            ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
            return library
    return None


def raise_stack_limit_and_restart() -> None:
    """Raise the stack limit to 32 MiB and re-run this process once when it was lower (POSIX)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft >= STACK_BYTES or os.environ.get(_RESTARTED):
        return
    target = STACK_BYTES if hard == resource.RLIM_INFINITY else min(STACK_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_STACK, (target, hard))
    os.environ[_RESTARTED] = "1"
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def require_sdk() -> None:
    """Import the App SDK (after :func:`preload_cuda_runtime`), or raise an ImportError saying how to install it."""
    preload_cuda_runtime()
    try:
        import monai.deploy.core  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"the MONAI Deploy App SDK is not usable ({err}); install it with pip install -e '.[deploy]' "
            "(see docs/deploy.md), or run with --no-sdk"
        ) from err
