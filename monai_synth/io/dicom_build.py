"""Build synthetic DICOM datasets with highdicom: Secondary Capture, or the source's image class.

* A generated image is a Secondary Capture Image (``highdicom.sc.SCImage``) with Conversion Type
  ``SYN``, in a new study unless told otherwise.
* A derived restoration of an acquired CT or MR image keeps its source's SOP class, study and
  geometry (``highdicom.SOPClass`` plus the CT/MR image attributes copied from the source); other
  source classes (e.g. DX, whose IOD needs detector modules) become Secondary Capture in the
  source study with the source geometry.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

from monai_synth import __version__
from monai_synth.io.dicom_geometry import copy_acquisition, copy_geometry
from monai_synth.io.dicom_identity import (
    PATIENT_KEYWORDS,
    STUDY_KEYWORDS,
    SYNTHETIC_PATIENT_NAME,
    copy_keywords,
    synthetic_patient_id,
)
from monai_synth.io.dicom_marking import MANUFACTURER, equipment_items, mark_synthetic, reference_sources
from monai_synth.io.dicom_pixels import Rescale

__all__ = ["SeriesInfo", "build_derived", "build_secondary_capture", "default_window", "set_modality_lut"]

_CHARSET = "ISO_IR 192"
_KEEP_SOP_CLASS = frozenset({CTImageStorage, MRImageStorage})
_REQUIRED_FROM_SOURCE: dict[str, tuple[str, ...]] = {MRImageStorage: ("ScanningSequence", "SequenceVariant")}
"""Type 1 attributes that a source must have for its SOP class to be kept (else Secondary Capture)."""
_TYPE2_DEFAULTS: dict[str, tuple[str, ...]] = {
    CTImageStorage: ("KVP", "AcquisitionNumber"),
    MRImageStorage: ("ScanOptions", "MRAcquisitionType", "RepetitionTime", "EchoTime", "EchoTrainLength"),
    SecondaryCaptureImageStorage: ("PatientOrientation",),
}
"""Type 2 attributes of the kept image module, written empty when the source lacks them."""


@dataclass(frozen=True)
class SeriesInfo:
    """What all instances of one synthetic series share.

    Attributes:
        study_uid: StudyInstanceUID.
        series_uid: SeriesInstanceUID.
        series_number: SeriesNumber.
        description: SeriesDescription (already starting with ``SYNTHETIC``).
        modality: Modality of a Secondary Capture series (derived images keep the source's).
        model: name of the generative model (equipment model name).
        copy_patient: copy patient attributes from the source instead of a synthetic patient.
    """

    study_uid: str
    series_uid: str
    series_number: int
    description: str
    modality: str = "OT"
    model: str | None = None
    copy_patient: bool = False


def _common_kwargs(series: SeriesInfo, instance_number: int) -> dict:
    """Keyword arguments of the highdicom constructors shared by both builders."""
    return {
        "study_instance_uid": series.study_uid,
        "series_instance_uid": series.series_uid,
        "series_number": series.series_number,
        "sop_instance_uid": generate_uid(),
        "instance_number": instance_number,
        "manufacturer": MANUFACTURER,
        "patient_id": synthetic_patient_id(series.study_uid),
        "patient_name": SYNTHETIC_PATIENT_NAME,
        "transfer_syntax_uid": ExplicitVRLittleEndian,
        "specific_character_set": _CHARSET,
    }


def _sc_equipment(ds: Dataset, series: SeriesInfo) -> None:
    """SC Equipment module: Conversion Type SYN and monai_synth as the capture device."""
    ds.ConversionType = "SYN"
    ds.Modality = series.modality
    ds.SecondaryCaptureDeviceManufacturer = MANUFACTURER
    ds.SecondaryCaptureDeviceManufacturerModelName = series.model or MANUFACTURER
    ds.SecondaryCaptureDeviceSoftwareVersions = __version__


def _new_study(ds: Dataset) -> None:
    """Study attributes of a new synthetic study: created now, described as synthetic."""
    now = datetime.datetime.now()
    ds.StudyDate = now.strftime("%Y%m%d")
    ds.StudyTime = now.strftime("%H%M%S")
    ds.StudyID = "SYNTH"
    ds.StudyDescription = f"SYNTHETIC - {MANUFACTURER}"


def build_secondary_capture(
    pixels: np.ndarray,
    series: SeriesInfo,
    instance_number: int,
    *,
    source: Dataset | None = None,
    pixel_spacing: Sequence[float] | None = None,
    patient_orientation: Sequence[str] | None = None,
) -> Dataset:
    """A Secondary Capture Image (Conversion Type SYN) holding ``pixels``.

    Args:
        pixels: uint16 ``(H, W)`` grayscale or uint8 ``(H, W, 3)`` RGB stored values.
        series: shared series attributes.
        instance_number: InstanceNumber.
        source: dataset the image was made from: referenced, and its patient copied when
            ``series.copy_patient``.
        pixel_spacing: ``(row, column)`` spacing in mm, if meaningful.
        patient_orientation: PatientOrientation such as ``("L", "P")``; left empty when ``None``.
    """
    rgb = pixels.ndim == 3
    ds = hd.sc.SCImage(
        pixel_array=pixels,
        photometric_interpretation="RGB" if rgb else "MONOCHROME2",
        bits_allocated=8 if rgb else 16,
        coordinate_system="PATIENT",
        patient_orientation=tuple(patient_orientation or ("L", "P")),
        pixel_spacing=None if pixel_spacing is None else tuple(float(v) for v in pixel_spacing),
        contributing_equipment=equipment_items(series.model),
        series_description=series.description,
        manufacturer_model_name=series.model or MANUFACTURER,
        software_versions=__version__,
        **_common_kwargs(series, instance_number),
    )
    if patient_orientation is None:
        ds.PatientOrientation = ""
    ds.Laterality = ""
    _new_study(ds)
    _sc_equipment(ds, series)
    _finish(ds, series, source, same_study=False)
    return ds


def _image_pixel_module(ds: Dataset, pixels: np.ndarray) -> None:
    """Image Pixel module for a uint16 grayscale image."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()


def _image_type(source: Dataset) -> list[str]:
    r"""ImageType DERIVED\SECONDARY, keeping the source's third value (e.g. AXIAL) when present."""
    source_type = list(source.get("ImageType", []))
    return ["DERIVED", "SECONDARY", *(source_type[2:3] or ["OTHER"])]


def _derived_sop_class(source: Dataset) -> str:
    """The source's SOP class when it is CT/MR with the needed attributes, else Secondary Capture."""
    sop_class = str(source.SOPClassUID)
    complete = all(keyword in source for keyword in _REQUIRED_FROM_SOURCE.get(sop_class, ()))
    return sop_class if sop_class in _KEEP_SOP_CLASS and complete else SecondaryCaptureImageStorage


def _fill_type2(ds: Dataset, sop_class: str) -> None:
    """Write empty Type 2 attributes the copied ones lacked (General Series, Frame of Reference, image module)."""
    keywords = ("Laterality", *_TYPE2_DEFAULTS.get(sop_class, ()))
    keywords += ("PositionReferenceIndicator",) if "FrameOfReferenceUID" in ds else ()
    for keyword in keywords:
        if keyword not in ds:
            setattr(ds, keyword, None)


def build_derived(pixels: np.ndarray, series: SeriesInfo, instance_number: int, source: Dataset) -> Dataset:
    """A synthetic restoration of the acquired image ``source``, kept in the source's study.

    CT and MR sources keep their SOP class and modality; other classes become Secondary Capture
    with the source's modality. Geometry and acquisition parameters are copied from ``source``.

    Args:
        pixels: uint16 ``(H, W)`` stored values (the size may differ from the source's).
        series: shared series attributes (``study_uid`` should be the source's).
        instance_number: InstanceNumber.
        source: dataset of the acquired image.
    """
    sop_class = _derived_sop_class(source)
    ds = hd.SOPClass(
        sop_class_uid=sop_class,
        modality=str(source.get("Modality") or series.modality),
        series_description=series.description,
        manufacturer_model_name=series.model or MANUFACTURER,
        software_versions=__version__,
        **_common_kwargs(series, instance_number),
    )
    ds.ContributingEquipmentSequence = [
        *equipment_items(series.model, source),
        hd.ContributingEquipment.for_highdicom(),
    ]
    ds.ImageType = _image_type(source)
    _image_pixel_module(ds, pixels)
    copy_acquisition(ds, source)
    copy_geometry(ds, source, *pixels.shape)
    if sop_class == SecondaryCaptureImageStorage:
        _sc_equipment(ds, series)
        ds.Modality = str(source.get("Modality") or series.modality)
    _fill_type2(ds, sop_class)
    _finish(ds, series, source, same_study=True)
    same_grid = (int(source.get("Rows", 0)), int(source.get("Columns", 0))) == pixels.shape
    ds.SourceImageSequence[0].SpatialLocationsPreserved = "YES" if same_grid else "NO"
    return ds


def _derivation_text(series: SeriesInfo, source: Dataset | None) -> str:
    """DerivationDescription: what made the pixels, and from what."""
    text = f"Synthetic image generated by {MANUFACTURER} {__version__}"
    text += f" (model {series.model})" if series.model else ""
    if source is not None:
        text += f" from source image {source.SOPInstanceUID}"
    return text + "."


def _finish(ds: Dataset, series: SeriesInfo, source: Dataset | None, *, same_study: bool) -> None:
    """Synthetic marks, source references and (on request) the source's patient attributes."""
    mark_synthetic(ds, description=series.description, derivation=_derivation_text(series, source))
    reference_sources(ds, [] if source is None else [source])
    if source is not None and series.copy_patient:
        copy_keywords(ds, source, PATIENT_KEYWORDS + (STUDY_KEYWORDS if same_study else ()))


def default_window(native: np.ndarray) -> tuple[float, float]:
    """A window (level, width) spanning the data range of ``native`` (width at least 1)."""
    lo, hi = float(native.min()), float(native.max())
    return (lo + hi) / 2.0, max(hi - lo, 1.0)


def set_modality_lut(
    ds: Dataset,
    rescale: Rescale | None,
    window: tuple[float, float] | None,
    native: np.ndarray,
) -> None:
    """Rescale (Modality LUT) and window (VOI LUT) attributes of a grayscale image.

    Args:
        ds: target dataset (modified in place).
        rescale: the Modality LUT used to store the pixels; ``None`` for RGB (nothing is set).
        window: ``(level, width)`` used to make the image; the data range when ``None``.
        native: native values of the image (for the default window).
    """
    if rescale is None:
        return
    ds.RescaleIntercept = format_number_as_ds(rescale.intercept)
    ds.RescaleSlope = format_number_as_ds(rescale.slope)
    ds.RescaleType = rescale.rescale_type
    window = default_window(native) if window is None else window
    ds.WindowCenter = format_number_as_ds(float(window[0]))
    ds.WindowWidth = format_number_as_ds(max(float(window[1]), 1.0))
