"""Small folder helpers of the applications: a staged view of input files, and an all-or-nothing swap-in."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

__all__ = ["stage_links", "swap_in", "temporary_sibling"]


def temporary_sibling(final: Path, tag: str = "part") -> Path:
    """A new hidden folder next to ``final`` (same file system, so that a rename is atomic)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.parent / f".{final.name}.{secrets.token_hex(6)}.{tag}"
    path.mkdir()
    return path


def stage_links(files: Sequence[str | os.PathLike], folder: Path) -> dict[str, str]:
    """Symbolic links to ``files`` in ``folder`` (inputs are only read through them); staged -> original."""
    mapping = {}
    for index, file in enumerate(files):
        original = os.path.abspath(file)
        link = folder / f"{index:05d}_{Path(original).name}"
        link.symlink_to(original)
        mapping[str(link)] = original
    return mapping


def swap_in(staging: Path, final: Path) -> None:
    """Put the finished folder ``staging`` in place of ``final`` (an older ``final`` is removed after)."""
    old = final.parent / f".{final.name}.{secrets.token_hex(6)}.old"
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
