"""Atomic file output: write to a temporary file in the target folder, then ``os.replace``.

A reader never sees a half-written output, and an exception (or a crash) part-way through
a write leaves nothing at the final path. The temporary file is a hidden ``.<name>.<random>.part``
file in the same folder, so that the final rename stays on one file system.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_open", "refuse_input_path"]

PathLike = str | os.PathLike


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (after resolving links, or by inode when both exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_input_path(path: PathLike, inputs: Iterable[PathLike | None] = ()) -> None:
    """Raise if ``path`` is one of the input files, so that an input is never overwritten.

    Args:
        path: the output path about to be written.
        inputs: paths of input (source) files; ``None`` entries are ignored.

    Raises:
        ValueError: when ``path`` names the same file as one of ``inputs``.
    """
    for source in inputs:
        if source is not None and str(source) and _same_file(Path(path), Path(source)):
            raise ValueError(f"refusing to write {os.fspath(path)!r}: it is the input file {os.fspath(source)!r}")


def _fsync_folder(folder: Path) -> None:
    """Flush a folder entry to disk (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open_temporary(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    """Create a new hidden temporary file next to the final one (mode 0666 minus umask)."""
    while True:
        temp = folder / f".{name}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return temp, os.fdopen(fd, "wb")


@contextlib.contextmanager
def atomic_open(path: PathLike, *, inputs: Iterable[PathLike | None] = ()) -> Iterator[BinaryIO]:
    """Open a binary file for writing that appears at ``path`` only once fully written.

    Args:
        path: final path of the file; missing parent folders are created.
        inputs: input files that must not be overwritten (see :func:`refuse_input_path`).

    Yields:
        A binary file object opened on a temporary file in the same folder. On normal exit it is
        flushed, fsynced and renamed onto ``path``; on an exception it is deleted and the
        exception propagates, leaving ``path`` untouched.

    Raises:
        ValueError: when ``path`` is an input file.
    """
    final = Path(path)
    refuse_input_path(final, inputs)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp, handle = _open_temporary(final.parent, final.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(final.parent)
