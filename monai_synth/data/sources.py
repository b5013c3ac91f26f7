"""Build a datalist from any supported source: what the bundles call with their ``dataset_dir``.

Source kinds (:func:`detect_source_kind`):

- ``phantom``: ``None`` or ``""``: the embedded chest-radiograph phantom (in-memory images);
- ``folder``: a folder of PNG/JPEG/TIFF images, one subfolder per class (or none: no labels);
- ``datalist``: a ``.csv`` or ``.json`` datalist file;
- ``dicom``: a DICOM export folder, a DICOMDIR, or one DICOM file;
- ``nifti``: a ``.nii``/``.nii.gz`` file, or a folder of them (optional class subfolders);
- ``npz``: a MedMNIST ``.npz`` archive;
- ``raster``: a single PNG/JPEG/TIFF file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from .datalist_file import DATALIST_SUFFIXES, datalist_class_names, read_datalist_file
from .dicom import NON_DICOM_SUFFIXES, dicom_datalist, has_dicom_magic, is_dicomdir, read_header
from .errors import BadInputReport, DataError, reject
from .folder import find_classes, is_raster, iter_files, raster_datalist, raster_problem
from .medmnist import NPZ_SPLITS, load_npz_split, npz_datalist, npz_splits
from .nifti import is_nifti, nifti_datalist
from .phantom import phantom_datalist

__all__ = [
    "PHANTOM_CLASSES",
    "SOURCE_KINDS",
    "build_datalist",
    "class_names",
    "detect_source_kind",
    "image_file_kind",
]

logger = logging.getLogger(__name__)

SOURCE_KINDS = ("phantom", "folder", "datalist", "dicom", "nifti", "npz", "raster")
#: Class names of the phantom's labels (0: normal heart, 1: cardiomegaly, CTR > 0.5).
PHANTOM_CLASSES = ["normal", "cardiomegaly"]
#: Seed offsets that keep phantom splits disjoint (train uses ``seed`` itself).
_PHANTOM_SPLIT_OFFSET = {"train": 0, "val": 1_000_003, "test": 2_000_006}


def image_file_kind(path: str | os.PathLike) -> str:
    """Kind of a single image file from its name: ``npz``, ``nifti``, ``raster`` or (anything else) ``dicom``."""
    if str(path).lower().endswith(".npz"):
        return "npz"
    if is_nifti(path):
        return "nifti"
    return "raster" if is_raster(path) else "dicom"


def _file_kind(path: Path) -> str:
    return "datalist" if path.suffix.lower() in DATALIST_SUFFIXES else image_file_kind(path)


def _any_dicom(paths: list[Path], probes: int = 16) -> bool:
    """Whether files without a known ending are DICOM: the preamble, or a readable raw dataset."""
    if any(map(has_dicom_magic, paths)):
        return True
    return any(map(_is_raw_dicom, paths[:probes]))


def _is_raw_dicom(path: Path) -> bool:
    try:
        return read_header(path) is not None
    except DataError:  # DICOM, but damaged: the DICOM reader will report it
        return True


def _folder_kind(root: Path) -> str:
    counts = {"dicom": 0, "nifti": 0, "raster": 0}
    unknown = []
    for path in iter_files(root):
        if is_dicomdir(path) or path.suffix.lower() == ".dcm":
            counts["dicom"] += 1
        elif is_nifti(path):
            counts["nifti"] += 1
        elif is_raster(path):
            counts["raster"] += 1
        elif path.suffix.lower() not in NON_DICOM_SUFFIXES:  # maybe DICOM without extension
            unknown.append(path)
    if counts["dicom"] or (not counts["nifti"] and not counts["raster"] and _any_dicom(unknown)):
        return "dicom"
    if counts["nifti"] and counts["raster"]:
        raise DataError(f"folder mixes NIfTI ({counts['nifti']}) and raster ({counts['raster']}) images; "
                        "point at a folder with one kind, or use a CSV/JSON datalist", root)
    if counts["nifti"]:
        return "nifti"
    if counts["raster"]:
        return "folder"
    raise DataError("no images found (looked for PNG/JPEG/TIFF, NIfTI and DICOM files; give a .csv, .json or "
                    ".npz file by its own path)", root)


def detect_source_kind(source: str | os.PathLike | None) -> str:
    """Say which kind of source a path is (see the module docstring for the kinds).

    Args:
        source: a path, or None / ``""`` for the phantom.

    Raises:
        DataError: the path does not exist, or a folder holds no images.
    """
    if source is None or str(source) == "":
        return "phantom"
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError("no such file or folder", path)
    return _folder_kind(path) if path.is_dir() else _file_kind(path)


def _phantom(count: int, size: int, seed: int, split: str | None) -> list[dict]:
    offset = _PHANTOM_SPLIT_OFFSET.get(NPZ_SPLITS.get(str(split or "train").lower(), "train"), 0)
    return phantom_datalist(count, size, seed + offset)


def _dispatch(kind: str, path: Path, report: BadInputReport | None, notes: BadInputReport, *, split: str | None,
              axis: int, skip_empty: bool, nonfinite: str, modality, series_description, series_uid) -> list[dict]:
    if kind == "folder":
        return raster_datalist(path, split=split, report=report)
    if kind == "datalist":
        return read_datalist_file(path, split=split, report=report, axis=axis, skip_empty=skip_empty,
                                  nonfinite=nonfinite, notes=notes)
    if kind == "dicom":
        return dicom_datalist(path, modality=modality, series_description=series_description,
                              series_uid=series_uid, report=report, notes=notes)
    if kind == "nifti":
        return nifti_datalist(path, axis=axis, skip_empty=skip_empty, split=split, report=report,
                              nonfinite=nonfinite, notes=notes)
    if kind == "npz":
        return npz_datalist(path, split=split or "train", report=report)
    problem = raster_problem(path)  # a single raster file
    if problem:
        reject(path, problem, report)
        return []
    return [{"image": str(path)}]


def _all_problems(bad: BadInputReport, source: Path, limit: int = 20) -> DataError:
    """One error for every bad input found (the single problem itself when there is one)."""
    if len(bad) == 1:
        return DataError(bad[0].reason, bad[0].path)
    lines = "".join(f"\n  {item.path}: {item.reason}" for item in bad[:limit])
    more = f"\n  ... and {len(bad) - limit} more" if len(bad) > limit else ""
    return DataError(f"{len(bad)} bad inputs (pass skip_bad=True, or --skip-bad, to leave them out and list them "
                     f"in a report):{lines}{more}", source)


def build_datalist(
    source: str | os.PathLike | None = None,
    *,
    split: str | None = "train",
    axis: int = 2,
    skip_empty: bool = True,
    modality: str | Sequence[str] | None = None,
    series_description: str | None = None,
    series_uid: str | Sequence[str] | None = None,
    skip_bad: bool = False,
    nonfinite: str = "error",
    phantom_count: int = 256,
    phantom_size: int = 64,
    seed: int = 0,
    report: BadInputReport | None = None,
    report_path: str | os.PathLike | None = None,
) -> list[dict]:
    """Build a datalist (list of dicts with ``image`` and optional ``label``, ``mask``, ``frame`` ...).

    Args:
        source: folder, ``.csv``/``.json`` datalist, DICOM folder/DICOMDIR/file, NIfTI file/folder,
            MedMNIST ``.npz`` or a single raster; None or ``""`` for the phantom.
        split: ``train``/``val``/``test``: the ``.npz`` split, the split column/key of a datalist file, the
            split folder of a ``train/val/test`` folder layout, the phantom split (disjoint seeds);
            None or ``"all"`` keeps every entry of a datalist file.
        axis: NIfTI slicing axis of the RAS+ volume: 0 sagittal, 1 coronal, 2 axial.
        skip_empty: leave out constant NIfTI slices.
        modality: DICOM: keep series of this Modality (e.g. ``"CT"``) or of any of several.
        series_description: DICOM: keep series whose description contains this text (case-insensitive).
        series_uid: DICOM: keep this SeriesInstanceUID (or several).
        skip_bad: skip unreadable/truncated files, objects without pixel data, series with mixed slice
            sizes, rows with missing files or non-integer labels, listing them in ``report`` and the log,
            instead of raising :class:`DataError`.
        nonfinite: images with NaN/Inf values: ``"error"`` refuses them (a bad input, named with the count:
            NIfTI volumes when the datalist is built, other files when read), ``"replace"`` keeps them, every
            entry then carries ``"nonfinite": "replace"`` so that the reader replaces the values, and the
            NIfTI files concerned are recorded in ``report`` / ``report_path``.
        phantom_count: number of phantom images.
        phantom_size: phantom side in pixels.
        seed: phantom base seed.
        report: a :class:`BadInputReport` that receives the skipped inputs (with ``skip_bad``) and the
            repaired ones (with ``nonfinite="replace"``).
        report_path: write the skipped and repaired inputs to this CSV file (``path,reason``) when there are
            any.

    Returns:
        The entries, in a deterministic order.

    Raises:
        DataError: unusable source, or any bad input when ``skip_bad`` is False, or nothing usable left.
    """
    kind = detect_source_kind(source)
    if kind == "phantom":
        return _phantom(phantom_count, phantom_size, seed, split)
    path = Path(os.path.abspath(Path(source).expanduser()))  # entries hold absolute paths
    bad, notes = BadInputReport(), BadInputReport()  # bad inputs; repaired or deliberately left-out ones
    entries = _dispatch(kind, path, bad, notes, split=split, axis=axis, skip_empty=skip_empty,
                        nonfinite=nonfinite, modality=modality, series_description=series_description,
                        series_uid=series_uid)
    if bad and not skip_bad:
        raise _all_problems(bad, path)
    if nonfinite == "replace":
        entries = [{**entry, "nonfinite": "replace"} for entry in entries]
    everything = BadInputReport([*bad, *notes])
    if report is not None:
        report.extend(everything)
    if everything:
        everything.log(logger)
        if report_path is not None:
            logger.warning("list of skipped inputs written to %s", everything.write(report_path))
    if not entries:
        skipped = f" ({len(bad)} bad input(s) skipped: {bad[0].path}: {bad[0].reason} ...)" if bad else ""
        raise DataError(f"no usable images{skipped}", path)
    logger.info("%s: %d entries from a %s source", path, len(entries), kind)
    return entries


def class_names(source: str | os.PathLike | None, *, split: str | None = "train") -> list[str]:
    """Names of the classes whose indices are the labels of ``build_datalist(source)``.

    Folder sources give the sorted class-folder names; the phantom gives ``["normal", "cardiomegaly"]``;
    CSV/JSON datalists give their class names in id order when labels are names (the name -> id mapping
    of :mod:`monai_synth.data.datalist_file`), else ``"0"`` to the largest label, as ``.npz`` archives do; unlabeled sources (DICOM, a single NIfTI file) give ``[]``.

    Args:
        source: as for :func:`build_datalist`.
        split: as for :func:`build_datalist`.
    """
    kind = detect_source_kind(source)
    if kind == "phantom":
        return list(PHANTOM_CLASSES)
    path = Path(source).expanduser()
    if kind in ("folder", "nifti") and path.is_dir():
        return find_classes(path, is_raster if kind == "folder" else is_nifti, split)
    if kind == "datalist":
        return datalist_class_names(path)
    labels: list[int] = []
    if kind == "npz":
        labels = [int(v) for s in npz_splits(path) for v in load_npz_split(path, s)[1]]
    return [str(i) for i in range(max(labels) + 1)] if labels else []
