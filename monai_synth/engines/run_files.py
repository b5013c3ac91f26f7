"""Small files of a run folder: JSON written atomically, UTC time stamps."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["save_json_atomic", "now_iso"]


def save_json_atomic(obj: Any, path: Path) -> None:
    """Write JSON through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    tmp.replace(path)


def now_iso() -> str:
    """The current UTC time as ISO 8601 (``2026-01-31T12:00:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
