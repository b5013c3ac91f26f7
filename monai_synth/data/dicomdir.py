"""DICOMDIR media directories: the files they list that are missing from the export.

A CD/DVD export or a PACS download often carries a ``DICOMDIR`` whose directory records name every file
(``ReferencedFileID``, path components relative to the DICOMDIR's folder). When files were lost in
copying, the folder scan alone would only say "0 files"; :func:`dicomdir_missing` names each one.
File systems of export media are case-insensitive, so a listed name matches a file whatever its case.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pydicom

from .errors import DataError

__all__ = ["dicomdir_files", "dicomdir_missing"]


def dicomdir_files(dicomdir: str | os.PathLike) -> list[Path]:
    """Paths of the files a DICOMDIR references (whether they exist or not).

    Raises:
        DataError: the DICOMDIR cannot be read.
    """
    dicomdir = Path(dicomdir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(dicomdir, force=True)
    except Exception as err:  # pydicom raises many types on damaged files
        raise DataError(f"unreadable DICOMDIR ({type(err).__name__}: {err})", dicomdir) from err
    files = []
    for record in ds.get("DirectoryRecordSequence", []):
        parts = record.get("ReferencedFileID")
        if parts:
            parts = [parts] if isinstance(parts, str) else list(parts)
            files.append(dicomdir.parent.joinpath(*(str(p).strip() for p in parts)))
    return files


def _exists_any_case(path: Path, base: Path) -> bool:
    """Whether ``path`` (below ``base``) exists, matching each component of it in any letter case."""
    current = base
    for part in path.relative_to(base).parts:
        if (current / part).exists():
            current = current / part
            continue
        match = next((p for p in current.iterdir() if p.name.lower() == part.lower()), None) if current.is_dir() else None
        if match is None:
            return False
        current = match
    return True


def dicomdir_missing(dicomdir: str | os.PathLike) -> list[Path]:
    """The files a DICOMDIR lists that are not on disk (any letter case), in listing order.

    Raises:
        DataError: the DICOMDIR cannot be read.
    """
    base = Path(dicomdir).parent
    return [path for path in dicomdir_files(dicomdir) if not _exists_any_case(path, base)]
