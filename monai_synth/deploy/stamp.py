"""Give written DICOM files deterministic UIDs (see :mod:`monai_synth.deploy.uids`), rewriting them atomically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pydicom
from pydicom import Dataset

from monai_synth.io.dicom import save_dataset

__all__ = ["stamp_files"]


def stamp_files(paths: Sequence[Path], set_uids: Callable[[Dataset], None]) -> None:
    """Apply ``set_uids`` to each file's dataset and write it back (File Meta instance UID kept in step).

    Args:
        paths: files written by this run (never input files).
        set_uids: sets the UIDs of one dataset in place.
    """
    for path in paths:
        ds = pydicom.dcmread(path)
        set_uids(ds)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        save_dataset(ds, path)
