"""Bundle overrides given on the command line as ``KEY=VALUE`` (values read as JSON when they parse)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"[8, 16]"`` -> [8, 16], ``"null"`` -> None, ``"true"`` -> True; anything else stays text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: Sequence[str] | None) -> dict[str, Any]:
    """``["unet_def#channels=[16,32]", "precision=fp32"]`` -> ``{"unet_def#channels": [16, 32], "precision": "fp32"}``.

    Raises:
        ValueError: an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r}: expected KEY=VALUE (e.g. batch_size=16 or unet_def#channels=[16,32])")
        out[key.strip()] = parse_value(value)
    return out
