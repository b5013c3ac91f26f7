"""Save a batch of generated images (model output in [-1, 1]) and their manifest lines."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom import Dataset

from monai_synth.io.arrays import to_numpy, unit_to_display, unit_to_native
from monai_synth.io.dicom import SourceLike, load_source, write_synthetic_dicom
from monai_synth.io.manifest import ManifestWriter
from monai_synth.io.nifti import write_nifti
from monai_synth.io.png import write_png
from monai_synth.io.synthetic_study import SyntheticStudy

if TYPE_CHECKING:
    import torch

__all__ = ["FORMATS", "save_generated"]

FORMATS: dict[str, str] = {"png": ".png", "nifti": ".nii.gz", "dicom": ".dcm"}
"""Output format name -> file suffix."""


def _output_path(output_dir: Path, name: str, fmt: str) -> Path:
    """``output_dir / name`` plus the format's suffix; ``name`` may hold sub-folders, not ``..``."""
    relative = PurePath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.name:
        raise ValueError(f"output name must be a relative path inside the output folder, got {name!r}")
    suffix = FORMATS[fmt]
    return output_dir / (name if name.endswith(suffix) else name + suffix)


def _to_native(y: np.ndarray, window: tuple[float, float] | None, bits: int) -> np.ndarray:
    """[-1, 1] -> native units through ``window`` (e.g. HU), else -> display range 0..2**bits-1."""
    return unit_to_display(y, bits) if window is None else unit_to_native(y, *window)


def _native_range(window: tuple[float, float] | None, bits: int) -> tuple[float, float]:
    """The native values shown as black and white."""
    if window is None:
        return 0.0, float(2**bits - 1)
    return window[0] - window[1] / 2.0, window[0] + window[1] / 2.0


def _class_label(record: Mapping[str, Any]) -> Any:
    """The class label of a record's condition, or ``None``."""
    condition = record.get("condition")
    return condition.get("class_label") if isinstance(condition, Mapping) else None


def _series_description(model: str | None, label: Any) -> str:
    """``SYNTHETIC - <model> class <c>`` for a series of one class, else ``SYNTHETIC - <model>``."""
    text = f"SYNTHETIC - {model or 'monai_synth'}"
    return text if label is None else f"{text} class {label}"


def _write_one(
    native: np.ndarray,
    path: Path,
    fmt: str,
    *,
    window: tuple[float, float] | None,
    bits: int,
    inputs: list[str],
    dicom: dict[str, Any],
) -> Path:
    """Write one image in ``fmt``."""
    if fmt == "png":
        return write_png(native, path, bits=bits, value_range=_native_range(window, bits), inputs=inputs)
    if fmt == "nifti":
        if native.shape[0] != 1:
            raise ValueError(f"{path}: NIfTI output holds single-channel images, got {native.shape[0]} channels")
        dtype = np.float32 if window is not None else (np.uint8 if bits == 8 else np.uint16)
        return write_nifti(native, path, pixel_spacing=dicom.get("pixel_spacing"), dtype=dtype, inputs=inputs)
    return write_synthetic_dicom(native, path, window=window, inputs=inputs, **dicom)


def _check_batch(
    images: np.ndarray, names: Sequence[str], records: Sequence[Mapping[str, Any]] | None, fmt: str
) -> None:
    """Validate shapes, counts and the format name."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {sorted(FORMATS)}, got {fmt!r}")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got {images.shape}")
    if len(names) != len(images) or (records is not None and len(records) != len(images)):
        raise ValueError(
            f"got {len(images)} images, {len(names)} names and {'no' if records is None else len(records)} records"
        )


def _source_inputs(record: Mapping[str, Any], source: Dataset | None) -> list[str]:
    """Input files an output must not overwrite: the condition's source path and the DICOM source file."""
    condition = record.get("condition")
    paths = [condition.get("source")] if isinstance(condition, Mapping) and condition.get("source") else []
    paths += [source.filename] if source is not None and isinstance(getattr(source, "filename", None), str) else []
    return [os.fspath(p) for p in paths if isinstance(p, (str, os.PathLike))]


def _dicom_kwargs(
    study: SyntheticStudy, record: Mapping[str, Any], source: Dataset | None, common: Mapping[str, Any]
) -> dict[str, Any]:
    """Per-image keyword arguments of :func:`write_synthetic_dicom`: UIDs, number, description."""
    label = None if study.single_series else _class_label(record)
    key = ("derived", source.StudyInstanceUID) if source is not None else ("class", label)
    return {
        **common,
        "study_uid": None if source is not None else study.study_uid,
        "series_uid": study.series_uid(key),
        "instance_number": study.next_instance_number(key),
        "description": _series_description(common.get("model"), label),
        "derived_from": source,
    }


def _with_source(record: Mapping[str, Any], source: Dataset | None) -> Mapping[str, Any]:
    """A derived image's record gets ``condition = {"source": <file or SOP instance UID>}`` if it has none."""
    if source is None or record.get("condition"):
        return record
    origin = getattr(source, "filename", None)
    return {**record, "condition": {"source": origin if isinstance(origin, str) else str(source.SOPInstanceUID)}}


def _load_sources(derived_from: Sequence[SourceLike] | None, count: int) -> list[Dataset | None]:
    """One source dataset per image (derived restorations) or ``None`` per image."""
    if derived_from is None:
        return [None] * count
    if len(derived_from) != count:
        raise ValueError(f"derived_from has {len(derived_from)} datasets for {count} images")
    return [load_source(s) for s in derived_from]


def save_generated(
    images: torch.Tensor | np.ndarray,
    output_dir: str | os.PathLike,
    names: Sequence[str],
    fmt: str = "png",
    manifest: ManifestWriter | None = None,
    records: Sequence[Mapping[str, Any]] | None = None,
    window: Sequence[float] | None = None,
    bits: int = 8,
    modality: str = "OT",
    *,
    model: str | None = None,
    pixel_spacing: Sequence[float] | None = None,
    derived_from: Sequence[SourceLike] | None = None,
    copy_patient: bool = False,
    study: SyntheticStudy | None = None,
) -> list[Path]:
    """Write a batch of generated images, each followed by its manifest line.

    Values in [-1, 1] (clipped) go back to native units through ``window`` = ``(level, width)``
    (e.g. HU for CT); without a window they go to the display range ``0 .. 2**bits - 1``.
    PNG maps the window (or display range) to the full ``bits`` range; NIfTI stores float32 native
    values (uint8/uint16 display values without a window); DICOM stores images marked synthetic,
    one series per class label in one study (derived restorations join their source's study).

    Args:
        images: ``(B, C, H, W)`` tensor or array in [-1, 1].
        output_dir: output folder (created if missing).
        names: ``B`` file names (sub-folders allowed); the format's suffix is added when missing.
        fmt: ``"png"``, ``"nifti"`` or ``"dicom"``.
        manifest: manifest to append to; a ``ManifestWriter(output_dir)`` when ``None``.
        records: ``B`` provenance dicts (model, checkpoint_sha256, seed, condition, sampler, steps,
            guidance_scale, ...); ``window`` and ``format`` are added.
        window: ``(level, width)`` the model was trained with, or ``None``.
        bits: 8 or 16, for PNG and for the display range.
        modality: DICOM Modality of generated images (``"CT"`` needs a window).
        model: model name for DICOM descriptions (else the first record's ``model``).
        pixel_spacing: ``(row, column)`` mm for NIfTI affines and DICOM PixelSpacing.
        derived_from: ``B`` acquired source datasets (or paths) for DICOM derived restorations.
        copy_patient: DICOM: copy the source's patient attributes.
        study: DICOM UIDs and instance numbering shared across calls; a new study per call when ``None``.

    Returns:
        The written paths, in batch order.
    """
    batch = to_numpy(images)
    records = list(records) if records is not None else [{} for _ in range(len(batch))]
    _check_batch(batch, names, records, fmt)
    if fmt == "dicom" and modality == "CT" and window is None and derived_from is None:
        raise ValueError("modality 'CT' needs window=(level, width) to write Hounsfield units")
    sources = _load_sources(derived_from, len(batch))
    window = None if window is None else (float(window[0]), float(window[1]))
    common = {
        "modality": modality,
        "model": model or records[0].get("model"),
        "copy_patient": copy_patient,
        "pixel_spacing": pixel_spacing,
    }
    study = study if study is not None else SyntheticStudy()
    writer = manifest if manifest is not None else ManifestWriter(output_dir)
    paths = []
    try:
        for y, name, record, source in zip(batch, names, records, sources):
            path = _output_path(Path(output_dir), name, fmt)
            record = _with_source(record, source)
            dicom = _dicom_kwargs(study, record, source, common) if fmt == "dicom" else common
            native = _to_native(y, window, bits)
            _write_one(native, path, fmt, window=window, bits=bits, inputs=_source_inputs(record, source), dicom=dicom)
            writer.write(path, record, window=None if window is None else list(window), format=fmt)
            paths.append(path)
    finally:
        if manifest is None:
            writer.close()
    return paths
