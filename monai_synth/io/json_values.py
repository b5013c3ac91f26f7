"""Plain JSON values from results that hold numpy or torch values, tuples, paths and non-finite floats."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["json_ready"]


def json_ready(value: Any) -> Any:
    """JSON-ready copy: numpy and torch values to Python numbers or lists, tuples to lists, paths to strings,
    non-finite floats to None (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
