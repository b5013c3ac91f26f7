"""Small synthetic DICOM objects for tests: CT series, MONOCHROME1 radiographs, enhanced multi-frame CT,
structured reports and presentation states, all with real UIDs from ``pydicom.uid.generate_uid``.

Reuse from other test folders with::

    sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
    from dicom_factory import write_ct_series

Pixel values encode where a slice is: the stored value of pixel (0, 0) is ``100 * k`` for the k-th slice
in anatomical order (ascending position along the slice normal), so tests can check the order of what
they read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    ComprehensiveSRStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    GrayscaleSoftcopyPresentationStateStorage,
    generate_uid,
)

__all__ = [
    "ct_slice",
    "write_dataset",
    "write_ct_series",
    "write_monochrome1",
    "write_enhanced_ct",
    "write_sr",
    "write_presentation_state",
    "slice_pixels",
]


def slice_pixels(k: int, rows: int = 8, columns: int = 8) -> np.ndarray:
    """Stored (uint16) pixels of the k-th slice: pixel (0, 0) = 100 * k, a ramp elsewhere."""
    arr = (np.arange(rows * columns, dtype=np.uint16).reshape(rows, columns) % 50) + 100 * k + 10
    arr[0, 0] = 100 * k
    return arr.astype(np.uint16)


def _base(sop_class: str, modality: str, study_uid: str | None, series_uid: str | None,
          description: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "TEST^PHANTOM", "TEST-001"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", "ACC1"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesDescription = description
    ds.SeriesNumber = 1
    return ds


def _pixels(ds: Dataset, stored: np.ndarray, *, signed: bool = False, bits_stored: int = 12) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = ds.get("PhotometricInterpretation", "MONOCHROME2")
    ds.Rows, ds.Columns = int(stored.shape[-2]), int(stored.shape[-1])
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = stored.astype(np.int16 if signed else np.uint16).tobytes()


def ct_slice(k: int, z: float | None, *, instance_number: int | None, study_uid: str, series_uid: str,
             rows: int = 8, columns: int = 8, description: str = "abdomen arterial", modality: str = "CT",
             orientation: Sequence[float] | None = (1, 0, 0, 0, 1, 0), intercept: float = -1024.0,
             slope: float = 1.0, window: tuple[float, float] | None = (40.0, 400.0)) -> Dataset:
    """One CT slice; ``z`` is the position along the normal (None: no ImagePositionPatient)."""
    ds = _base(CTImageStorage, modality, study_uid, series_uid, description)
    if instance_number is not None:
        ds.InstanceNumber = instance_number
    if z is not None:
        ds.ImagePositionPatient = [-100.0, -120.0, float(z)]
    if orientation is not None:
        ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = 2.5
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "HU"
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    _pixels(ds, slice_pixels(k, rows, columns))
    return ds


def write_dataset(ds: Dataset, path: str | Path) -> Path:
    """Write ``ds`` as a DICOM file (preamble and file meta), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def write_ct_series(folder: str | Path, n_slices: int = 5, *, spacing: float = 2.5, rows: int = 8,
                    columns: int = 8, study_uid: str | None = None, series_uid: str | None = None,
                    description: str = "abdomen arterial", modality: str = "CT",
                    instance_numbers: Sequence[int | None] | None = None, positions: bool = True,
                    name: Callable[[int], str] = lambda k: f"IM{k:04d}.dcm",
                    order: Sequence[int] | None = None, intercept: float = -1024.0) -> list[Path]:
    """Write a small CT series; returns the files in anatomical order (ascending z).

    Args:
        folder: destination folder.
        n_slices: number of slices.
        spacing: distance between slices in mm.
        rows, columns: slice size.
        study_uid, series_uid: UIDs (new ones by default).
        description: SeriesDescription.
        modality: Modality.
        instance_numbers: InstanceNumber of slice k (anatomical order); default k + 1. None entries
            leave it out.
        positions: write ImagePositionPatient/ImageOrientationPatient.
        name: relative file name of the k-th file written (may contain folders, may lack ``.dcm``).
        order: anatomical indices in the order the files are written (default 0..n-1).
        intercept: RescaleIntercept.
    """
    study_uid, series_uid = study_uid or generate_uid(), series_uid or generate_uid()
    numbers = list(instance_numbers) if instance_numbers is not None else [k + 1 for k in range(n_slices)]
    paths: dict[int, Path] = {}
    for written, k in enumerate(order if order is not None else range(n_slices)):
        ds = ct_slice(k, -50.0 + spacing * k if positions else None, instance_number=numbers[k],
                      study_uid=study_uid, series_uid=series_uid, rows=rows, columns=columns,
                      description=description, modality=modality,
                      orientation=(1, 0, 0, 0, 1, 0) if positions else None, intercept=intercept)
        paths[k] = write_dataset(ds, Path(folder) / name(written))
    return [paths[k] for k in range(n_slices)]


def write_monochrome1(path: str | Path, stored: np.ndarray | None = None, bits_stored: int = 12) -> Path:
    """A DX radiograph in MONOCHROME1 (high stored value = dark), no rescale."""
    ds = _base(DigitalXRayImageStorageForPresentation, "DX", None, None, "chest PA")
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.ImagerPixelSpacing = [0.15, 0.15]
    ds.InstanceNumber = 1
    _pixels(ds, stored if stored is not None else slice_pixels(1), bits_stored=bits_stored)
    return write_dataset(ds, path)


def _item(**values) -> Dataset:
    item = Dataset()
    for key, value in values.items():
        setattr(item, key, value)
    return item


def write_enhanced_ct(path: str | Path, frames: int = 3, *, rows: int = 8, columns: int = 8,
                      reverse: bool = True, slope: float = 2.0, intercept: float = -1000.0) -> Path:
    """An enhanced (multi-frame) CT whose geometry and rescale live in functional groups.

    Frame f holds the pixels of anatomical slice ``frames - 1 - f`` when ``reverse`` (frames stored
    head to feet), so ordering by per-frame position reverses the stored order.
    """
    ds = _base(EnhancedCTImageStorage, "CT", None, None, "enhanced volume")
    ds.InstanceNumber = 1
    ds.NumberOfFrames = frames
    anatomical = [frames - 1 - f if reverse else f for f in range(frames)]
    shared = _item(
        PixelMeasuresSequence=DicomSequence([_item(PixelSpacing=[0.5, 0.5], SliceThickness=1.0)]),
        PlaneOrientationSequence=DicomSequence([_item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]),
        PixelValueTransformationSequence=DicomSequence(
            [_item(RescaleSlope=slope, RescaleIntercept=intercept, RescaleType="HU")]),
    )
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    ds.PerFrameFunctionalGroupsSequence = DicomSequence([
        _item(PlanePositionSequence=DicomSequence([_item(ImagePositionPatient=[0.0, 0.0, 10.0 * k])]))
        for k in anatomical])
    _pixels(ds, np.stack([slice_pixels(k, rows, columns) for k in anatomical]))
    return write_dataset(ds, path)


def write_sr(path: str | Path, study_uid: str | None = None) -> Path:
    """A Comprehensive SR document: no pixel data."""
    ds = _base(ComprehensiveSRStorage, "SR", study_uid, None, "report")
    ds.InstanceNumber = 1
    ds.ValueType = "CONTAINER"
    return write_dataset(ds, path)


def write_presentation_state(path: str | Path, study_uid: str | None = None) -> Path:
    """A grayscale softcopy presentation state: no pixel data."""
    ds = _base(GrayscaleSoftcopyPresentationStateStorage, "PR", study_uid, None, "annotations")
    ds.InstanceNumber = 1
    ds.ContentLabel = "ANNOT"
    return write_dataset(ds, path)
