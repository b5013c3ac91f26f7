"""Public DICOM writers: one synthetic image, or a synthetic series of slices.

Files are DICOM Part 10 (preamble, valid File Meta, Explicit VR Little Endian), written with
``enforce_file_format=True`` and atomically. See ``docs/outputs.md`` for how images are marked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.uid import MRImageStorage, generate_uid

from monai_synth.io.arrays import check_finite, image_2d, to_numpy
from monai_synth.io.atomic import atomic_open
from monai_synth.io.dicom_build import (
    SeriesInfo,
    build_derived,
    build_secondary_capture,
    default_window,
    set_modality_lut,
)
from monai_synth.io.dicom_geometry import set_series_geometry
from monai_synth.io.dicom_marking import synthetic_description
from monai_synth.io.dicom_pixels import Rescale, choose_rescale, encode_grayscale, encode_rgb

if TYPE_CHECKING:
    import torch

__all__ = ["load_source", "save_dataset", "write_dicom_series", "write_synthetic_dicom"]

SourceLike = Dataset | str | os.PathLike
_DERIVED_SERIES_OFFSET = 1000


def load_source(source: SourceLike | None) -> Dataset | None:
    """Read a source dataset from a path (header only), or pass a Dataset through."""
    if source is None or isinstance(source, Dataset):
        return source
    return pydicom.dcmread(source, stop_before_pixels=True)


def _source_paths(*sources: Dataset | None) -> list[str]:
    """File paths the sources were read from (outputs must never overwrite them)."""
    return [str(s.filename) for s in sources if s is not None and isinstance(getattr(s, "filename", None), str)]


def save_dataset(ds: Dataset, path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Write ``ds`` as a DICOM Part 10 file (``enforce_file_format=True``), atomically.

    Raises:
        ValueError: when ``path`` is one of ``inputs``.
    """
    with atomic_open(path, inputs=inputs) as handle:
        pydicom.dcmwrite(handle, ds, enforce_file_format=True)
    return Path(path)


def _stored_pixels(values: np.ndarray, rescale: Rescale | None) -> np.ndarray:
    """uint16 grayscale (with ``rescale``) or uint8 RGB stored values."""
    return encode_rgb(values) if rescale is None else encode_grayscale(values, rescale)


def _series_info(
    *,
    study_uid: str | None,
    series_uid: str | None,
    derived: Dataset | None,
    description: str | None,
    modality: str,
    model: str | None,
    copy_patient: bool,
) -> SeriesInfo:
    """Series attributes: a derived series lives in its source's study, a generated one in a new study."""
    if derived is not None and study_uid is not None and study_uid != derived.StudyInstanceUID:
        raise ValueError("study_uid must be the source's StudyInstanceUID (or None) when derived_from is given")
    study = derived.StudyInstanceUID if derived is not None else (study_uid or generate_uid())
    number = 1 if derived is None else int(derived.get("SeriesNumber") or 0) + _DERIVED_SERIES_OFFSET
    return SeriesInfo(
        study_uid=study,
        series_uid=series_uid or generate_uid(),
        series_number=number,
        description=synthetic_description(description, model),
        modality=str(derived.Modality) if derived is not None and "Modality" in derived else modality,
        model=model,
        copy_patient=copy_patient,
    )


def _build(
    values: np.ndarray,
    series: SeriesInfo,
    instance_number: int,
    *,
    rescale: Rescale | None,
    window: tuple[float, float] | None,
    source: Dataset | None,
    derived: Dataset | None,
    pixel_spacing: Sequence[float] | None,
    patient_orientation: Sequence[str] | None,
) -> Dataset:
    """Dataset of one synthetic instance (derived restoration or Secondary Capture)."""
    pixels = _stored_pixels(values, rescale)
    if derived is not None:
        if rescale is None:
            raise ValueError("a derived restoration must be a grayscale image")
        ds = build_derived(pixels, series, instance_number, derived)
    else:
        ds = build_secondary_capture(
            pixels,
            series,
            instance_number,
            source=source,
            pixel_spacing=pixel_spacing,
            patient_orientation=patient_orientation,
        )
    set_modality_lut(ds, rescale, window, values)
    return ds


def _whole_units(derived: Dataset | None) -> bool | None:
    """Round to whole units for restorations of MR images (their IOD has no Modality LUT); else default."""
    return True if derived is not None and derived.SOPClassUID == MRImageStorage else None


def _check_sources(source: Dataset | None, derived: Dataset | None) -> Dataset | None:
    """``derived_from`` implies ``source``; both may be given only when they are the same instance."""
    if source is not None and derived is not None and source.SOPInstanceUID != derived.SOPInstanceUID:
        raise ValueError("source and derived_from name different SOP instances; give only derived_from")
    return derived if derived is not None else source


def write_synthetic_dicom(
    image: torch.Tensor | np.ndarray,
    path: str | os.PathLike,
    *,
    modality: str = "OT",
    window: tuple[float, float] | None = None,
    source: SourceLike | None = None,
    copy_patient: bool = False,
    series_uid: str | None = None,
    study_uid: str | None = None,
    instance_number: int = 1,
    description: str | None = None,
    derived_from: SourceLike | None = None,
    model: str | None = None,
    pixel_spacing: Sequence[float] | None = None,
    patient_orientation: Sequence[str] | None = None,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write one synthetic 2D image as a DICOM file marked synthetic, atomically.

    Args:
        image: native values (e.g. HU for CT), ``(H, W)`` or ``(1, H, W)``; or ``(3, H, W)`` RGB in
            0..255 (Secondary Capture only).
        path: output ``.dcm`` path.
        modality: Modality of a Secondary Capture image (``"CT"`` rounds to whole HU, RescaleType HU).
        window: ``(level, width)`` used to make the image, written as WindowCenter/WindowWidth.
        source: dataset (or path) the image was generated from: referenced in Source Image Sequence;
            its patient is copied only when ``copy_patient``. The image stays Secondary Capture in
            a new study.
        copy_patient: copy the source's patient attributes instead of a synthetic patient.
        series_uid: SeriesInstanceUID; new when ``None``.
        study_uid: StudyInstanceUID of a generated image; new when ``None``.
        instance_number: InstanceNumber.
        description: SeriesDescription; ``"SYNTHETIC - "`` is prefixed unless it says synthetic.
        derived_from: dataset (or path) of an acquired image this one restores: the study, SOP class
            (CT/MR), modality and geometry are kept; new series and instance UIDs.
        model: generative model name (equipment model name, default description).
        pixel_spacing: ``(row, column)`` spacing in mm of a Secondary Capture image.
        patient_orientation: PatientOrientation of a Secondary Capture image, e.g. ``("L", "P")``.
        inputs: more input files that must not be overwritten (the sources' files always are).

    Returns:
        The written path.

    Raises:
        ValueError: bad image, inconsistent sources, or ``path`` is an input file.
    """
    what = os.fspath(path)
    values = image_2d(to_numpy(image), what)
    check_finite(values, what)
    derived = load_source(derived_from)
    reference = _check_sources(load_source(source), derived)
    series = _series_info(
        study_uid=study_uid,
        series_uid=series_uid,
        derived=derived,
        description=description,
        modality=modality,
        model=model,
        copy_patient=copy_patient,
    )
    if values.ndim == 3 and window is not None:
        raise ValueError(f"{what}: an RGB image is stored in the display range 0..255; window is for grayscale")
    rescale = None if values.ndim == 3 else choose_rescale(values, series.modality, _whole_units(derived))
    ds = _build(
        values,
        series,
        instance_number,
        rescale=rescale,
        window=window,
        source=reference,
        derived=derived,
        pixel_spacing=pixel_spacing,
        patient_orientation=patient_orientation,
    )
    return save_dataset(ds, path, inputs=[*_source_paths(reference), *inputs])


def _volume(volume: torch.Tensor | np.ndarray, folder: str | os.PathLike) -> np.ndarray:
    """A finite ``(S, H, W)`` float array (a leading channel axis of 1 is dropped)."""
    values = to_numpy(volume)
    if values.ndim == 4 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 3:
        raise ValueError(f"{os.fspath(folder)}: expected a volume of shape (S, H, W), got {values.shape}")
    check_finite(values, os.fspath(folder))
    return values


def _derived_sources(derived_from: Sequence[SourceLike] | None, slices: int) -> list[Dataset | None]:
    """One source dataset per slice (all in one study), or ``None`` per slice."""
    if derived_from is None:
        return [None] * slices
    sources = [load_source(s) for s in derived_from]
    if len(sources) != slices:
        raise ValueError(f"derived_from has {len(sources)} datasets for {slices} slices")
    if len({s.StudyInstanceUID for s in sources}) != 1:
        raise ValueError("derived_from datasets belong to different studies")
    return sources


def write_dicom_series(
    volume: torch.Tensor | np.ndarray,
    folder: str | os.PathLike,
    *,
    modality: str = "OT",
    window: tuple[float, float] | None = None,
    derived_from: Sequence[SourceLike] | None = None,
    copy_patient: bool = False,
    study_uid: str | None = None,
    series_uid: str | None = None,
    description: str | None = None,
    model: str | None = None,
    pixel_spacing: Sequence[float] | None = None,
    slice_spacing: float | None = None,
    prefix: str = "IM",
) -> list[Path]:
    """Write a volume as one synthetic DICOM series, one file per slice (``<prefix>0001.dcm``, ...).

    All slices share study, series and frame-of-reference UIDs and one Modality LUT; InstanceNumber
    runs 1..S. A generated volume gets axial positions ``z = i * slice_spacing`` (Secondary
    Capture with Image Plane attributes); a derived volume takes each slice's geometry from its source.

    Args:
        volume: native values, ``(S, H, W)`` or ``(S, 1, H, W)``.
        folder: output folder (created if missing).
        modality: Modality of a generated series (``"CT"``: whole HU, RescaleType HU).
        window: ``(level, width)`` used to make the images (WindowCenter/WindowWidth).
        derived_from: one acquired source dataset (or path) per slice, in slice order.
        copy_patient: copy the sources' patient attributes instead of a synthetic patient.
        study_uid: StudyInstanceUID of a generated series; new when ``None``.
        series_uid: SeriesInstanceUID; new when ``None``.
        description: SeriesDescription (made to start with ``SYNTHETIC``).
        model: generative model name.
        pixel_spacing: ``(row, column)`` spacing in mm of a generated series.
        slice_spacing: slice distance in mm of a generated series.
        prefix: file name prefix.

    Returns:
        The written paths, in slice order.
    """
    values = _volume(volume, folder)
    sources = _derived_sources(derived_from, len(values))
    series = _series_info(
        study_uid=study_uid,
        series_uid=series_uid,
        derived=sources[0],
        description=description,
        modality=modality,
        model=model,
        copy_patient=copy_patient,
    )
    rescale = choose_rescale(values, series.modality, _whole_units(sources[0]))
    window = default_window(values) if window is None else window
    frame_uid = generate_uid()
    paths = []
    for index, (plane, source) in enumerate(zip(values, sources)):
        ds = _build(
            plane,
            series,
            index + 1,
            rescale=rescale,
            window=window,
            source=source,
            derived=source,
            pixel_spacing=pixel_spacing,
            patient_orientation=None,
        )
        if source is None:
            set_series_geometry(
                ds, index, frame_uid=frame_uid, pixel_spacing=pixel_spacing, slice_spacing=slice_spacing
            )
        path = Path(folder) / f"{prefix}{index + 1:04d}.dcm"
        paths.append(save_dataset(ds, path, inputs=_source_paths(source)))
    return paths
