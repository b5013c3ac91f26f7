"""DICOM exports (as a PACS or a CD writes them): scanning, series selection, slice order and pixel reading.

Scanning walks the folder (any depth; files with or without ``.dcm``; ``DICOMDIR`` and non-DICOM files are
skipped), reads each header with ``stop_before_pixels=True``, groups instances by SeriesInstanceUID and
orders the slices of a series by ImagePositionPatient projected on the slice normal (the cross product of
the ImageOrientationPatient rows), falling back to InstanceNumber when positions or a common orientation
are missing. Multi-frame objects give one slice per frame (per-frame positions of enhanced objects are
used). Truncated pixel data is found at scan time from the declared and available byte counts.

Pixels are read with :func:`pydicom.pixels.pixel_array` (one frame at a time) and converted with the
modality LUT (:func:`pydicom.pixels.apply_modality_lut`: rescale slope/intercept, so CT comes out in HU);
MONOCHROME1 images are inverted so that higher values are brighter.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, pixel_array
from pydicom.uid import UID

from .dicom_codecs import decode_problem
from .dicomdir import dicomdir_missing
from .errors import BadInputReport, DataError, reject
from .folder import iter_files

__all__ = [
    "NON_DICOM_SUFFIXES",
    "DicomInstance",
    "DicomSeries",
    "has_dicom_magic",
    "is_dicomdir",
    "dicom_candidates",
    "read_header",
    "scan_dicom",
    "select_series",
    "usable_slices",
    "dicom_datalist",
    "read_dicom_frame",
    "dicom_meta",
    "pixel_spacing_of",
]

logger = logging.getLogger(__name__)

#: File endings never read as DICOM (viewer programs, reports, thumbnails on export CDs).
NON_DICOM_SUFFIXES: frozenset[str] = frozenset({
    ".txt", ".xml", ".html", ".htm", ".js", ".css", ".json", ".csv", ".pdf", ".exe", ".dll", ".inf", ".ini",
    ".ico", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".md", ".log", ".zip", ".bat", ".sh",
    ".py", ".nii", ".gz", ".npz", ".db", ".cfg", ".jar", ".class", ".sys", ".app", ".plist", ".rtf", ".doc",
})
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_PIXEL_TAGS = {(0x7FE0, 0x0010), (0x7FE0, 0x0008), (0x7FE0, 0x0009)}
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


# ----------------------------------------------------------------------------------------------
# What the scan records
# ----------------------------------------------------------------------------------------------


@dataclass
class DicomInstance:
    """Header facts of one DICOM file (one SOP instance, one or more frames)."""

    path: str
    sop_instance_uid: str
    sop_class_uid: str
    series_uid: str
    study_uid: str
    modality: str
    description: str
    rows: int | None
    columns: int | None
    frames: int
    instance_number: int | None
    orientation: tuple[float, ...] | None
    positions: list[tuple[float, float, float] | None]
    pixel_spacing: tuple[float, float] | None
    spacing_between_slices: float | None
    photometric: str
    units: str | None = None
    problem: str | None = None
    synthetic: bool = False

    @property
    def size(self) -> tuple[int, int] | None:
        """``(rows, columns)`` or None."""
        return None if self.rows is None or self.columns is None else (self.rows, self.columns)


@dataclass
class DicomSeries:
    """The instances of one SeriesInstanceUID found in a scan."""

    series_uid: str
    study_uid: str
    modality: str
    description: str
    instances: list[DicomInstance] = field(default_factory=list)

    @property
    def normal(self) -> np.ndarray | None:
        """Unit slice normal shared by all instances, or None if missing or orientations differ."""
        orientations = {inst.orientation for inst in self.instances}
        if None in orientations or not orientations:
            return None
        first = np.asarray(next(iter(orientations)), dtype=float)
        if any(not np.allclose(first, o, atol=1e-4) for o in orientations):
            return None
        normal = np.cross(first[:3], first[3:])
        norm = np.linalg.norm(normal)
        return normal / norm if norm > 0 else None

    @property
    def plane(self) -> str | None:
        """``axial``, ``coronal`` or ``sagittal`` from the slice normal, or None."""
        normal = self.normal
        return None if normal is None else ("sagittal", "coronal", "axial")[int(np.argmax(np.abs(normal)))]

    def slices(self) -> list[tuple[DicomInstance, int]]:
        """``(instance, frame)`` pairs in anatomical order (see module docstring)."""
        pairs = [(inst, f) for inst in self.instances for f in range(inst.frames)]
        normal = self.normal
        if normal is not None and all(inst.positions[f] is not None for inst, f in pairs):
            return sorted(pairs, key=lambda p: (float(np.dot(p[0].positions[p[1]], normal)), *_number_key(p)))
        return sorted(pairs, key=_number_key)

    @property
    def slice_spacing(self) -> float | None:
        """Median distance between consecutive slice positions along the normal (or the header value)."""
        normal, pairs = self.normal, self.slices()
        if normal is not None and len(pairs) > 1 and all(i.positions[f] is not None for i, f in pairs):
            steps = np.diff([float(np.dot(i.positions[f], normal)) for i, f in pairs])
            steps = steps[np.abs(steps) > 1e-6]
            if steps.size:
                return round(float(np.median(np.abs(steps))), 6)
        values = {inst.spacing_between_slices for inst in self.instances} - {None}
        return values.pop() if len(values) == 1 else None

    @property
    def synthetic(self) -> bool:
        """Whether the series is marked synthetic (SyntheticData ``YES``), e.g. written by a generative model."""
        return any(inst.synthetic for inst in self.instances)

    @property
    def num_slices(self) -> int:
        """Number of 2D images (frames) in the series; objects without an image (SR, PR) count 0."""
        return sum(inst.frames for inst in self.instances if inst.size)

    def __str__(self) -> str:
        size = Counter(i.size for i in self.instances).most_common(1)[0][0] if self.instances else None
        shape = f"{size[0]} x {size[1]}" if size else "no image"
        return f"{self.series_uid} ({self.modality} '{self.description}', {self.num_slices} slices, {shape})"


def _number_key(pair: tuple[DicomInstance, int]) -> tuple:
    inst, frame = pair
    return (inst.instance_number is None, inst.instance_number or 0, frame, inst.path)


# ----------------------------------------------------------------------------------------------
# Header reading
# ----------------------------------------------------------------------------------------------


def has_dicom_magic(path: str | os.PathLike) -> bool:
    """Whether the file has the DICOM preamble (``DICM`` at byte 128)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def is_dicomdir(path: str | os.PathLike) -> bool:
    """Whether the file is a DICOMDIR (media directory, not an image)."""
    return Path(path).name.upper() == "DICOMDIR"


def dicom_candidates(root: str | os.PathLike) -> list[Path]:
    """Files under ``root`` that may be DICOM (not DICOMDIR, not a known non-DICOM type)."""
    root = Path(root)
    if root.is_file():
        return [root]
    return [p for p in iter_files(root) if not is_dicomdir(p) and p.suffix.lower() not in NON_DICOM_SUFFIXES]


def _functional(ds: Dataset, frame: int, sequence: str, keyword: str) -> Any:
    """``keyword`` from the per-frame, then shared functional groups of an enhanced object."""
    for name in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        groups = ds.get(name)
        if not groups:
            continue
        item = groups[min(frame, len(groups) - 1)]
        inner = item.get(sequence)
        if inner and keyword in inner[0]:
            return inner[0][keyword].value
    return None


def _attribute(ds: Dataset, frame: int, sequence: str, keyword: str) -> Any:
    """Top-level ``keyword``, else from the functional groups."""
    value = ds.get(keyword)
    return value if value not in (None, "") else _functional(ds, frame, sequence, keyword)


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(math.isfinite(v) for v in numbers) else None


def _first_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def pixel_spacing_of(ds: Dataset, frame: int = 0) -> tuple[float, float] | None:
    """Row and column spacing in mm (PixelSpacing, functional groups, or ImagerPixelSpacing)."""
    value = _attribute(ds, frame, "PixelMeasuresSequence", "PixelSpacing") or ds.get("ImagerPixelSpacing")
    return _floats(value, 2) if value is not None else None


def _expected_bytes(ds: Dataset) -> int | None:
    if str(ds.get("PhotometricInterpretation", "")).endswith("422"):
        return None
    try:
        count = int(ds.Rows) * int(ds.Columns) * int(ds.get("NumberOfFrames", 1) or 1)
        count *= int(ds.get("SamplesPerPixel", 1) or 1)
        return math.ceil(count * int(ds.get("BitsAllocated", 16) or 16) / 8)
    except (AttributeError, TypeError, ValueError):
        return None


def _pixel_problem(handle, ds: Dataset, file_size: int) -> str | None:
    """Inspect the pixel data element where ``dcmread(stop_before_pixels=True)`` stopped."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax == pydicom.uid.DeflatedExplicitVRLittleEndian:
        return None  # the file offset does not map onto the inflated stream: checked at decode time
    start = handle.tell()
    header = handle.read(12)
    if len(header) == 0:
        kind = UID(_sop_class(ds)).name if _sop_class(ds) else "unknown SOP class"
        if "Rows" in ds or "Image" in kind:
            return f"no pixel data ({kind}); the file is truncated or has no image"
        return f"no pixel data ({kind}): not an image"
    if len(header) < 8:
        return "truncated pixel data (file ends inside the pixel data header)"
    little = syntax.is_little_endian if syntax else True
    implicit = syntax.is_implicit_VR if syntax else False
    order = "<" if little else ">"
    if struct.unpack(order + "HH", header[:4]) not in _PIXEL_TAGS:
        return None
    if not implicit and not header[4:6].isalpha():  # the header says explicit VR, the data set is implicit
        implicit = True  # (pydicom reads such files; so do we)
    if implicit:
        length, offset = struct.unpack(order + "I", header[4:8])[0], 8
    elif header[4:6] in _LONG_VRS:
        length, offset = struct.unpack(order + "I", header[8:12])[0], 12
    else:
        length, offset = struct.unpack(order + "H", header[6:8])[0], 8
    available = file_size - start - offset
    if length == 0xFFFFFFFF:
        handle.seek(max(start, file_size - 1024))
        tail = handle.read()
        return None if _SEQUENCE_DELIMITER in tail else "truncated compressed pixel data (no end delimiter)"
    if length > available:
        return f"truncated pixel data ({available} of {length} bytes present)"
    expected = _expected_bytes(ds)
    if expected and syntax is not None and not syntax.is_compressed and length < expected:
        return f"pixel data too short ({length} bytes for {expected} expected)"
    return None


def _sop_class(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    return str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta else "") or "")


def _read_dataset(path: Path, force: bool) -> tuple[Dataset, str | None, bool]:
    """``(header, pixel problem, whether the header ran to the end of the file)``."""
    size = path.stat().st_size
    with open(path, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(handle, stop_before_pixels=True, force=force)
        at_end = handle.tell() >= size
        return ds, _pixel_problem(handle, ds, size), at_end


def _units(ds: Dataset) -> str | None:
    """Units of the values after the modality LUT: HU for CT, else RescaleType/Units when given."""
    kind = str(ds.get("RescaleType", "") or _functional(ds, 0, "PixelValueTransformationSequence", "RescaleType") or "")
    if str(ds.get("Modality", "")).upper() == "CT" and kind in ("", "HU"):
        return "HU"
    return kind or (str(ds.get("Units")) if ds.get("Units") else None)


def _instance(path: Path, ds: Dataset, problem: str | None) -> DicomInstance:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    orientation = _floats(_attribute(ds, 0, "PlaneOrientationSequence", "ImageOrientationPatient") or (), 6)
    positions = [_floats(_attribute(ds, f, "PlanePositionSequence", "ImagePositionPatient") or (), 3)
                 for f in range(frames)]
    number = ds.get("InstanceNumber")
    return DicomInstance(
        path=str(path),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        sop_class_uid=_sop_class(ds),
        series_uid=str(ds.SeriesInstanceUID),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        modality=str(ds.get("Modality", "")),
        description=str(ds.get("SeriesDescription", "")),
        rows=int(ds.Rows) if "Rows" in ds else None,
        columns=int(ds.Columns) if "Columns" in ds else None,
        frames=frames,
        instance_number=int(number) if number not in (None, "") else None,
        orientation=orientation,
        positions=positions,
        pixel_spacing=pixel_spacing_of(ds),
        spacing_between_slices=_first_float(_attribute(ds, 0, "PixelMeasuresSequence", "SpacingBetweenSlices")),
        photometric=str(ds.get("PhotometricInterpretation", "")),
        units=_units(ds),
        problem=problem,
        synthetic=str(ds.get("SyntheticData", "")).upper() == "YES",
    )


def read_header(path: str | os.PathLike) -> DicomInstance | None:
    """Read one file's header (no pixel data) and check that its pixel data is complete.

    Args:
        path: the file (opened read-only).

    Returns:
        The instance, with ``problem`` set when it has no or truncated pixel data; None when the file is
        not DICOM at all (no preamble, no ``.dcm`` ending, no DICOM content) or is a DICOMDIR.

    Raises:
        DataError: a DICOM file (preamble or ``.dcm``) whose header cannot be read.
    """
    path = Path(path)
    magic, named = has_dicom_magic(path), path.suffix.lower() == ".dcm"
    try:
        ds, problem, at_end = _read_dataset(path, force=not magic)
    except Exception as err:  # pydicom raises many types on damaged files
        if magic or named:
            raise DataError(f"unreadable DICOM file ({type(err).__name__}: {err})", path) from err
        return None
    if _sop_class(ds) == _DICOMDIR_SOP_CLASS:
        return None
    if "SeriesInstanceUID" not in ds:
        size = path.stat().st_size
        if (magic or "SOPClassUID" in ds) and at_end:
            raise DataError(f"truncated DICOM file: its header ends after {size} bytes, before SeriesInstanceUID "
                            "and the pixel data", path)
        if "SOPClassUID" in ds or (magic and len(ds)):
            raise DataError("DICOM header without SeriesInstanceUID (a required attribute): it cannot be put "
                            "in a series", path)
        if magic or named:
            raise DataError("not a DICOM data set (" + ("the preamble is there but no attribute could be read)"
                            if magic else "no DICOM preamble, no SOP Class UID: the name ends in .dcm but the "
                            "content is something else)"), path)
        return None
    try:
        return _instance(path, ds, problem)
    except (AttributeError, TypeError, ValueError) as err:
        raise DataError(f"malformed DICOM header ({type(err).__name__}: {err})", path) from err


# ----------------------------------------------------------------------------------------------
# Scanning and selection
# ----------------------------------------------------------------------------------------------


def _group(instances: Iterable[DicomInstance]) -> list[DicomSeries]:
    series: dict[str, DicomSeries] = {}
    seen: dict[str, str] = {}
    for inst in instances:
        if inst.sop_instance_uid and inst.sop_instance_uid in seen:
            logger.warning("%s: duplicate of %s (same SOPInstanceUID), ignored", inst.path, seen[inst.sop_instance_uid])
            continue
        seen[inst.sop_instance_uid] = inst.path
        group = series.setdefault(
            inst.series_uid, DicomSeries(inst.series_uid, inst.study_uid, inst.modality, inst.description))
        group.instances.append(inst)
    return sorted(series.values(), key=lambda s: (s.study_uid, s.modality, s.description, s.series_uid))


def scan_dicom(source: str | os.PathLike, *, report: BadInputReport | None = None) -> list[DicomSeries]:
    """Read the headers of a DICOM export and group them by series.

    Args:
        source: a folder (any depth), a DICOMDIR file (its folder is scanned) or a single DICOM file.
        report: where to list unreadable DICOM files (None: raise :class:`DataError`).

    Returns:
        The series, sorted by study, modality, description and UID. Instances without or with truncated
        pixel data are kept with ``problem`` set (see :func:`usable_slices`).
    """
    source = Path(source)
    if not source.exists():
        raise DataError("no such file or folder", source)
    root = source.parent if source.is_file() and is_dicomdir(source) else source
    _check_dicomdirs(root, report)
    instances = []
    for path in dicom_candidates(root):
        try:
            inst = read_header(path)
        except DataError as err:
            reject(path, err.problem, report)
            continue
        if inst is not None:
            instances.append(inst)
    return _group(instances)


def _check_dicomdirs(root: Path, report: BadInputReport | None) -> None:
    """Reject every file that a DICOMDIR under ``root`` lists but the export lacks."""
    dicomdirs = [root] if root.is_file() else [p for p in iter_files(root) if is_dicomdir(p)]
    for dicomdir in filter(is_dicomdir, dicomdirs):
        try:
            missing = dicomdir_missing(dicomdir)
        except DataError as err:
            reject(dicomdir, err.problem, report)
            continue
        for path in missing:
            reject(path, f"listed in {dicomdir} but missing from the export", report)


def _as_set(value: str | Sequence[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def select_series(series: list[DicomSeries], *, modality: str | Sequence[str] | None = None,
                  series_description: str | None = None, series_uid: str | Sequence[str] | None = None,
                  source: str | os.PathLike | None = None) -> list[DicomSeries]:
    """Keep the series matching every given filter.

    Args:
        series: scanned series.
        modality: DICOM Modality (e.g. ``"CT"``) or several; case-insensitive.
        series_description: case-insensitive substring of SeriesDescription.
        series_uid: exact SeriesInstanceUID or several.
        source: the scanned path, for the error message.

    Raises:
        DataError: when no series is found or none matches (the message lists what was found).
    """
    if not series:
        raise DataError("no DICOM files found", source)
    modalities = {m.upper() for m in _as_set(modality)} if modality is not None else None
    uids = _as_set(series_uid)
    kept = [s for s in series
            if (modalities is None or s.modality.upper() in modalities)
            and (series_description is None or series_description.lower() in s.description.lower())
            and (uids is None or s.series_uid in uids)]
    if not kept:
        wanted = ", ".join(f"{k}={v!r}" for k, v in
                           (("modality", modality), ("series_description", series_description),
                            ("series_uid", series_uid)) if v is not None)
        found = "; ".join(str(s) for s in series[:10]) + (f"; ... {len(series) - 10} more" if len(series) > 10 else "")
        raise DataError(f"no series matches {wanted} (found: {found})", source)
    return kept


def usable_slices(series: DicomSeries, report: BadInputReport | None = None) -> list[tuple[DicomInstance, int]]:
    """Ordered ``(instance, frame)`` pairs of a series after dropping bad instances.

    Instances without or with truncated pixel data are rejected one by one; a series whose remaining
    slices differ in size is rejected as a whole.

    Args:
        series: one scanned series.
        report: where to list bad files (None: raise :class:`DataError`).
    """
    good = []
    for inst in series.instances:
        if inst.problem:
            reject(inst.path, inst.problem, report)
        else:
            good.append(inst)
    sizes = Counter(inst.size for inst in good)
    if len(sizes) > 1:
        common = sizes.most_common(1)[0][0]
        odd = next(inst for inst in good if inst.size != common)
        listing = ", ".join(f"{r} x {c} ({n} files)" for (r, c), n in sizes.most_common())
        reject(odd.path, f"series {series.series_uid} ('{series.description}') has slices of different "
                         f"sizes: {listing}; this file is {odd.rows} x {odd.columns}", report)
        return []
    return DicomSeries(series.series_uid, series.study_uid, series.modality, series.description, good).slices()


def _leave_out_synthetic(series: list[DicomSeries], notes: BadInputReport | None) -> list[DicomSeries]:
    """Series marked synthetic are left out when acquired series are present too (a mixed folder)."""
    if all(s.synthetic for s in series) or not any(s.synthetic for s in series):
        return series
    for s in series:
        if s.synthetic and notes is not None:
            notes.add(s.instances[0].path, f"synthetic series {s.series_uid} ('{s.description}', SyntheticData "
                                           "YES) among acquired ones: left out (select it by series_uid to use it)")
    return [s for s in series if not s.synthetic]


def dicom_datalist(source: str | os.PathLike, *, modality: str | Sequence[str] | None = None,
                   series_description: str | None = None, series_uid: str | Sequence[str] | None = None,
                   report: BadInputReport | None = None, notes: BadInputReport | None = None) -> list[dict]:
    """One entry per 2D image (slice or frame) of the selected series, in anatomical order.

    Series marked synthetic (SyntheticData ``YES``) found among acquired series are left out, and recorded
    in ``notes``, unless selected by ``series_uid``: samples written into a data folder never pass for
    acquired images. A folder of synthetic series only (a sampler's output) is read as is.

    Args:
        source: DICOM folder, DICOMDIR or file.
        modality: keep series of this Modality (or these).
        series_description: keep series whose description contains this text (case-insensitive).
        series_uid: keep this SeriesInstanceUID (or these).
        report: where to list bad files (None: raise :class:`DataError`).
        notes: where left-out synthetic series are recorded.

    Returns:
        Entries ``{"image": path, "frame": k, "series_uid": uid}`` (``frame`` is 0 for single-frame files,
        so every entry has the same keys and batches collate).
    """
    scanned = scan_dicom(source, report=report)
    if series_uid is None:
        scanned = _leave_out_synthetic(scanned, notes)
    selected = select_series(scanned, modality=modality, series_description=series_description,
                             series_uid=series_uid, source=source)
    return [{"image": inst.path, "frame": frame, "series_uid": s.series_uid}
            for s in selected for inst, frame in usable_slices(s, report)]


# ----------------------------------------------------------------------------------------------
# Pixel reading
# ----------------------------------------------------------------------------------------------


def _raw_pixels(path: str, frames: int, frame: int) -> np.ndarray:
    """Pixels of a dataset stored without the DICOM file preamble/meta (old exports, raw ``.dcm``)."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        implicit, little = ds.original_encoding
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit else
                                          pydicom.uid.ExplicitVRLittleEndian if little else
                                          pydicom.uid.ExplicitVRBigEndian)
    arr = ds.pixel_array
    return arr[frame] if frames > 1 else arr


def _decode(path: str, frame: int) -> tuple[np.ndarray, Dataset]:
    """Header (all elements but the pixel data) and the pixels of one frame, without loading other frames."""
    magic = has_dicom_magic(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = pydicom.dcmread(path, stop_before_pixels=True, force=not magic)
        frames = int(header.get("NumberOfFrames", 1) or 1)
        if not 0 <= frame < frames:
            raise IndexError(f"frame {frame} out of range (the file has {frames})")
        if not magic:
            return _raw_pixels(path, frames, frame), header
        try:
            return pixel_array(path, index=frame), header
        except Exception:  # e.g. a header/data-set VR mismatch that only the full reader handles
            return _raw_pixels(path, frames, frame), header


def _lut_dataset(ds: Dataset, frame: int) -> Dataset:
    """The dataset holding the modality LUT: top level, or the enhanced object's functional groups."""
    if "ModalityLUTSequence" in ds or ("RescaleSlope" in ds and "RescaleIntercept" in ds):
        return ds
    slope = _functional(ds, frame, "PixelValueTransformationSequence", "RescaleSlope")
    intercept = _functional(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept")
    lut = Dataset()
    if slope is not None and intercept is not None:
        lut.RescaleSlope, lut.RescaleIntercept = slope, intercept
    return lut


def _invert_monochrome1(values: np.ndarray, ds: Dataset, lut: Dataset) -> np.ndarray:
    """Flip MONOCHROME1 (high = dark) around the centre of the representable range in modality units."""
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    ends = np.asarray(apply_modality_lut(np.array([lo, hi]), lut), dtype=np.float64)
    return (ends.min() + ends.max() - values).astype(np.float32)


def _window(ds: Dataset, frame: int) -> tuple[float | None, float | None]:
    center = _first_float(_attribute(ds, frame, "FrameVOILUTSequence", "WindowCenter"))
    width = _first_float(_attribute(ds, frame, "FrameVOILUTSequence", "WindowWidth"))
    return (center, width) if center is not None and width is not None else (None, None)


def dicom_meta(ds: Dataset, frame: int) -> dict[str, Any]:
    """The loader's meta keys for one frame of a dataset."""
    center, width = _window(ds, frame)
    return {
        "modality": str(ds.get("Modality")) if ds.get("Modality") else None,
        "window_center": center,
        "window_width": width,
        "pixel_spacing": pixel_spacing_of(ds, frame),
        "image_position": _floats(_attribute(ds, frame, "PlanePositionSequence", "ImagePositionPatient") or (), 3),
        "image_orientation": _floats(
            _attribute(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient") or (), 6),
        "series_uid": str(ds.get("SeriesInstanceUID", "")) or None,
        "study_uid": str(ds.get("StudyInstanceUID", "")) or None,
        "frame": int(frame),
    }


def read_dicom_frame(path: str | os.PathLike, frame: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Read one frame in modality units.

    Args:
        path: the DICOM file (opened read-only).
        frame: frame index (0 for single-frame files).

    Returns:
        ``(array, meta)``: float32 (1, H, W) after the modality LUT (HU for CT; MONOCHROME1 inverted), or
        (3, H, W) for colour images (PALETTE COLOR through its lookup table); meta as in :func:`dicom_meta`.

    Raises:
        DataError: no pixel data, truncated or undecodable pixel data, frame out of range.
    """
    path = str(path)
    try:
        arr, ds = _decode(path, int(frame))
    except Exception as err:  # pydicom and its decoders raise many types
        raise DataError(f"cannot read DICOM pixel data of frame {frame}: {decode_problem(path, err)}", path) from err
    if str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR":
        try:
            arr = apply_color_lut(arr, ds)  # indices -> RGB through the palette
        except Exception as err:
            raise DataError(f"cannot apply the palette colour lookup table ({type(err).__name__}: {err})",
                            path) from err
    if arr.ndim == 3:
        return np.moveaxis(arr, -1, 0).astype(np.float32), dicom_meta(ds, frame)
    lut = _lut_dataset(ds, frame)
    values = np.asarray(apply_modality_lut(arr, lut), dtype=np.float32)
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        values = _invert_monochrome1(values, ds, lut)
    return values[None], dicom_meta(ds, frame)
