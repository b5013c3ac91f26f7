"""Checkpoint files: atomic writes, discovery of the latest one, state-dict-only loading."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

# ``checkpoint_<iteration>.pt``, optionally behind a prefix ending in "_" (``stylegan2_checkpoint_<iteration>.pt``)
_STEP = re.compile(r"^(?:\w*_)?checkpoint_(\d+)\.pt$")
_PARTIAL = re.compile(r"^\.(?:\w*_)?checkpoint_\d+\.pt\..*\.tmp$")  # left by a process killed while saving


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename: no half-written file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The ``checkpoint_<iteration>.pt`` with the highest iteration in ``folder``, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name))]
    return max(found)[1] if found else None


def load_state(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint of state dicts (``weights_only=True``: no pickled code is executed)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(f"{path}: cannot read checkpoint ({e})") from e


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file, for manifests."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def remove_stale_checkpoints(folder: str | os.PathLike, keep: int = 1) -> list[Path]:
    """Delete all but the ``keep`` newest ``checkpoint_<iteration>.pt`` of ``folder`` (and half-written ones).

    Called once a phase has written ``final.pt``: older checkpoints (left by a resumed run) only take space.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name)))
    stale = [p for _, p in found[: max(len(found) - keep, 0)]]
    stale += [p for p in folder.iterdir() if _PARTIAL.match(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
