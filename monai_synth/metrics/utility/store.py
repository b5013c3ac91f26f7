"""Results of finished cells, kept on disk so that an interrupted study continues where it stopped.

Each finished cell is one JSON file in ``<output_dir>/cells/``, written atomically (a temporary file, then a
rename): a file is either complete or absent, never half written. Every result carries the fingerprint of
what it depends on (real and synthetic images, network and training settings); a rerun keeps the results
whose fingerprint matches and recomputes the others, so changing a setting never mixes old and new numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai_synth.io.atomic import atomic_open

__all__ = ["CellStore", "fingerprint"]

logger = logging.getLogger(__name__)


def fingerprint(*parts: Any) -> str:
    """SHA-256 (first 16 hex digits) of JSON-serialisable parts (keys sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class CellStore:
    """One atomically written JSON file per finished cell, in ``folder``.

    Args:
        folder: where the cell files live (created on the first write).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        """The file of a cell key (``vgg11/real0.25/synth0.5/seed1`` -> ``vgg11__real0.25__synth0.5__seed1.json``)."""
        return self.folder / (re.sub(r"[^A-Za-z0-9_.=-]", "_", key.replace("/", "__")) + ".json")

    def get(self, key: str, expected: str) -> dict[str, Any] | None:
        """The stored result of ``key`` when its fingerprint is ``expected``; else None (absent, stale, unreadable)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            logger.warning("%s: unreadable cell result, recomputing (%s)", path, err)
            return None
        if not isinstance(result, dict) or result.get("key") != key or result.get("fingerprint") != expected:
            logger.info("%s: computed with other data or settings, recomputing", path)
            return None
        return result

    def put(self, key: str, result: Mapping[str, Any]) -> Path:
        """Write the result of ``key`` (it must hold ``key`` and ``fingerprint``) atomically."""
        if result.get("key") != key or "fingerprint" not in result:
            raise ValueError(f"a cell result needs its key ({key!r}) and a fingerprint")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        with atomic_open(path) as handle:
            handle.write((json.dumps(result, allow_nan=False) + "\n").encode("utf-8"))
        return path
