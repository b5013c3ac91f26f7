"""The audit's work folder: intermediate results keyed by what they were computed from, written atomically.

An audit that is interrupted and run again continues: synthetic-image features, the self-supervised encoder
and the membership losses are stored under ``<output>/work/`` as ``<name>-<key>.npy`` / ``.pt`` files, the key
being a SHA-256 over the inputs (image bytes, model checksum, settings). Files appear only complete (written to
a temporary name, then renamed); a file with another key is simply not used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth.io.atomic import atomic_open

__all__ = ["digest", "WorkFolder"]


def digest(*parts: Any) -> str:
    """SHA-256 (hex, first 20 characters) over tensors/arrays (shape and bytes) and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, (torch.Tensor, np.ndarray)):
            tensor = isinstance(part, torch.Tensor)
            array = part.detach().cpu().contiguous().numpy() if tensor else np.ascontiguousarray(part)
            h.update(f"{array.dtype}{array.shape}".encode())
            h.update(array.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


class WorkFolder:
    """``<output>/work``: keyed arrays and state dicts."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _path(self, name: str, key: str, suffix: str) -> Path:
        return self.folder / f"{name}-{key}{suffix}"

    def load_array(self, name: str, key: str) -> np.ndarray | None:
        """The stored array, or ``None`` when absent or unreadable."""
        path = self._path(name, key, ".npy")
        try:
            return np.load(path, allow_pickle=False) if path.is_file() else None
        except (OSError, ValueError):
            return None

    def save_array(self, name: str, key: str, array: np.ndarray) -> np.ndarray:
        """Store atomically (replacing older keys of the same name); returns the array."""
        self._forget(name, ".npy")
        with atomic_open(self._path(name, key, ".npy")) as handle:
            np.save(handle, np.asarray(array), allow_pickle=False)
        return array

    def load_state(self, name: str, key: str) -> dict | None:
        path = self._path(name, key, ".pt")
        try:
            return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None
        except (OSError, RuntimeError, EOFError):
            return None

    def save_state(self, name: str, key: str, state: dict) -> None:
        self._forget(name, ".pt")
        with atomic_open(self._path(name, key, ".pt")) as handle:
            torch.save(state, handle)

    def _forget(self, name: str, suffix: str) -> None:
        """Remove stored results of ``name`` under other keys (settings changed: they will not be used again)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob(f"{name}-*{suffix}"):
            if old.name.count("-") == name.count("-") + 1:
                old.unlink(missing_ok=True)
