"""Geometry and acquisition attributes of derived images, and slice positions of a new series.

A derived restoration keeps its source's patient geometry (position, orientation, spacing, frame
of reference). When the restored image has a different size than the source (super-resolution),
the same field of view is kept: the pixel spacing scales and the first pixel's centre moves.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import numpy as np
from pydicom import Dataset
from pydicom.valuerep import format_number_as_ds

from monai_synth.io.dicom_identity import ANNEX_E_BASIC_REMOVED

__all__ = ["GEOMETRY_KEYWORDS", "copy_acquisition", "copy_geometry", "set_series_geometry"]

GEOMETRY_KEYWORDS: tuple[str, ...] = (
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "SliceLocation",
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
    "PatientPosition",
    "PatientOrientation",
    "AcquisitionNumber",
    "Laterality",
    "ImageLaterality",
)

_EQUIPMENT_KEYWORDS = frozenset(
    {
        "DeviceSerialNumber",
        "DeviceUID",
        "GantryID",
        "UDISequence",
        "ManufacturerDeviceClassUID",
        "SoftwareVersions",
        "SpatialResolution",
        "DateOfManufacture",
        "DateOfInstallation",
        "DateOfLastCalibration",
        "TimeOfLastCalibration",
        "DateOfSecondaryCapture",
        "TimeOfSecondaryCapture",
        "SecondaryCaptureDeviceID",
        "SecondaryCaptureDeviceManufacturer",
        "SecondaryCaptureDeviceManufacturerModelName",
        "SecondaryCaptureDeviceSoftwareVersions",
        "ContributingEquipmentSequence",
    }
)


def _ds_list(values: Sequence[float]) -> list[str]:
    """Numbers as DICOM DS strings (at most 16 characters each)."""
    return [format_number_as_ds(float(v)) for v in values]


def _resample_plane(ds: Dataset, source: Dataset, rows: int, cols: int) -> None:
    """Keep the source field of view for a ``rows x cols`` image: new spacing and first-pixel centre."""
    row_step, col_step = (float(v) for v in source.PixelSpacing)
    new_row_step, new_col_step = row_step * source.Rows / rows, col_step * source.Columns / cols
    ds.PixelSpacing = _ds_list((new_row_step, new_col_step))
    if "ImagePositionPatient" in source and "ImageOrientationPatient" in source:
        cosines = np.asarray(source.ImageOrientationPatient, dtype=np.float64)
        along_row, along_col = cosines[:3], cosines[3:]
        shift = 0.5 * (new_col_step - col_step) * along_row + 0.5 * (new_row_step - row_step) * along_col
        ds.ImagePositionPatient = _ds_list(np.asarray(source.ImagePositionPatient, dtype=np.float64) + shift)


def copy_geometry(ds: Dataset, source: Dataset, rows: int, cols: int) -> None:
    """Copy the patient geometry of ``source`` into ``ds`` for an image of ``rows x cols`` pixels.

    Args:
        ds: target dataset (modified in place).
        source: dataset of the acquired image.
        rows: Rows of the new image.
        cols: Columns of the new image.
    """
    for keyword in GEOMETRY_KEYWORDS:
        if keyword in source:
            ds[keyword] = copy.deepcopy(source[keyword])
    same_size = (int(source.get("Rows", rows)), int(source.get("Columns", cols))) == (rows, cols)
    if not same_size and "PixelSpacing" in source:
        _resample_plane(ds, source, rows, cols)


def copy_acquisition(ds: Dataset, source: Dataset, keep: Iterable[str] = ()) -> None:
    """Copy the acquisition parameters of ``source`` (public group 0018) into ``ds``.

    Keeps CT/MR image modules complete (KVP, ScanningSequence, ...). Dates and times, equipment
    identifiers (serial numbers, software versions), private elements and every attribute that DICOM
    PS3.15 Annex E's Basic Application Level Confidentiality Profile removes or replaces
    (:data:`monai_synth.io.dicom_identity.ANNEX_E_BASIC_REMOVED`: ProtocolName, AcquisitionComments,
    DetectorID ...) are not copied.

    Args:
        ds: target dataset (modified in place).
        source: the acquired image.
        keep: keywords of profile-listed attributes to copy anyway, on purpose (e.g. ``("ProtocolName",)``).
    """
    dropped = (ANNEX_E_BASIC_REMOVED | _EQUIPMENT_KEYWORDS) - set(keep)
    for element in source.group_dataset(0x0018):
        if element.tag.is_private or element.keyword in dropped or (
                element.VR in ("DA", "DT", "TM") and element.keyword not in keep):
            continue
        ds[element.tag] = copy.deepcopy(element)


def set_series_geometry(
    ds: Dataset,
    index: int,
    *,
    frame_uid: str,
    pixel_spacing: Sequence[float] | None,
    slice_spacing: float | None,
) -> None:
    """Axial geometry for slice ``index`` of a new synthetic volume (origin at 0, identity orientation).

    Args:
        ds: target dataset (modified in place).
        index: zero-based slice index; slice ``i`` lies at z = ``i * slice_spacing``.
        frame_uid: FrameOfReferenceUID shared by the series.
        pixel_spacing: ``(row, column)`` spacing in mm; 1 mm when ``None``.
        slice_spacing: distance between slices in mm; 1 mm when ``None``.
    """
    step = 1.0 if slice_spacing is None else float(slice_spacing)
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = _ds_list((1, 0, 0, 0, 1, 0))
    ds.ImagePositionPatient = _ds_list((0.0, 0.0, index * step))
    ds.PixelSpacing = _ds_list(pixel_spacing if pixel_spacing is not None else (1.0, 1.0))
    ds.SliceThickness = format_number_as_ds(step)
    ds.SpacingBetweenSlices = format_number_as_ds(step)
