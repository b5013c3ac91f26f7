"""Say what a data source holds, before training on it (``monai-synth inspect PATH``).

:func:`inspect_source` returns a JSON-ready dict; :func:`format_inspection` turns it into text. DICOM
exports are described series by series (modality, description, slices, size, spacing, intensity range in
modality units, e.g. HU for CT); image folders, NIfTI volumes, datalist files and MedMNIST archives by their
counts, sizes and classes. Problems (unreadable files, objects without pixels ...) are listed, never raised,
except when the source itself is unusable.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .datalist_file import read_datalist_file
from .dicom import DicomSeries, read_dicom_frame, scan_dicom, usable_slices
from .errors import BadInputReport, DataError
from .folder import class_files, find_classes, is_raster, raster_problem
from .image_limits import open_image
from .medmnist import load_npz_split, npz_splits
from .nifti import is_nifti, load_volume, nifti_files, nonempty_slices
from .sources import detect_source_kind, image_file_kind

__all__ = ["inspect_source", "format_inspection"]

_MODE_NAMES = {"1": "1-bit", "L": "8-bit grayscale", "LA": "8-bit grayscale + alpha", "P": "8-bit palette",
               "RGB": "8-bit RGB", "RGBA": "8-bit RGB + alpha", "I;16": "16-bit grayscale",
               "I;16B": "16-bit grayscale", "I;16L": "16-bit grayscale", "I": "32-bit integer",
               "F": "32-bit float", "CMYK": "8-bit CMYK", "YCbCr": "8-bit YCbCr"}


def _problems(report: BadInputReport) -> list[dict[str, str]]:
    return [{"path": item.path, "reason": item.reason} for item in report]


def _range(values: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(min(v[0] for v in values)), float(max(v[1] for v in values))


# ----------------------------------------------------------------------------------------------
# DICOM
# ----------------------------------------------------------------------------------------------


def _series_intensity(pairs, report: BadInputReport) -> tuple[float | None, float | None]:
    ranges = []
    for inst, frame in pairs:
        try:
            arr, _ = read_dicom_frame(inst.path, frame)
        except DataError as err:
            report.add(inst.path, err.problem)
            continue
        ranges.append((float(arr.min()), float(arr.max())))
    return _range(ranges)


def _describe_series(series: DicomSeries, report: BadInputReport, intensity: bool) -> dict[str, Any]:
    pairs = usable_slices(series, report)
    sizes = Counter(inst.size for inst in series.instances if inst.size)
    rows, columns = sizes.most_common(1)[0][0] if sizes else (None, None)
    low, high = _series_intensity(pairs, report) if intensity else (None, None)
    first = series.instances[0]
    spacing = next((i.pixel_spacing for i in series.instances if i.pixel_spacing), None)
    return {
        "series_uid": series.series_uid,
        "study_uid": series.study_uid,
        "modality": series.modality,
        "description": series.description,
        "synthetic": series.synthetic,
        "plane": series.plane,
        "files": len(series.instances),
        "slices": series.num_slices,
        "usable_slices": len(pairs),
        "rows": rows,
        "columns": columns,
        "sizes": {f"{r} x {c}": n for (r, c), n in sizes.most_common()},
        "pixel_spacing": list(spacing) if spacing else None,
        "slice_spacing": series.slice_spacing,
        "photometric": first.photometric,
        "units": first.units,
        "min": low,
        "max": high,
    }


def _inspect_dicom(path: Path, intensity: bool) -> dict[str, Any]:
    report = BadInputReport()
    series = scan_dicom(path, report=report)
    described = [_describe_series(s, report, intensity) for s in series]
    return {"files": sum(d["files"] for d in described), "series": described, "problems": _problems(report)}


# ----------------------------------------------------------------------------------------------
# Rasters, NIfTI, datalists, npz
# ----------------------------------------------------------------------------------------------


def _raster_header(path: Path) -> tuple[str, str]:
    with open_image(path) as img:
        return f"{img.height} x {img.width}", _MODE_NAMES.get(img.mode, img.mode)


def _inspect_rasters(pairs: list[tuple[Path, int | None]], classes: list[str]) -> dict[str, Any]:
    report, sizes, types, per_class = BadInputReport(), Counter(), Counter(), Counter()
    for path, label in pairs:
        problem = raster_problem(path)
        if problem:
            report.add(path, problem)
            continue
        size, kind = _raster_header(path)
        sizes[size] += 1
        types[kind] += 1
        per_class[label] += 1
    return {
        "images": sum(per_class.values()),
        "classes": [{"label": i, "name": name, "images": per_class[i]} for i, name in enumerate(classes)],
        "sizes": dict(sizes.most_common()),
        "pixel_types": dict(types.most_common()),
        "problems": _problems(report),
    }


def _inspect_folder(path: Path, split: str | None) -> dict[str, Any]:
    return _inspect_rasters(class_files(path, is_raster, split), find_classes(path, is_raster, split))


def _describe_volume(path: Path, label: int | None, axis: int) -> dict[str, Any]:
    volume, zooms = load_volume(path)
    return {
        "path": str(path),
        "label": label,
        "shape": list(volume.shape),
        "zooms": [round(z, 6) for z in zooms],
        "slices": int(volume.shape[axis]),
        "nonempty_slices": int(len(nonempty_slices(volume, axis))),
        "min": float(np.nanmin(volume)),
        "max": float(np.nanmax(volume)),
    }


def _inspect_nifti(path: Path, axis: int, split: str | None) -> dict[str, Any]:
    report, volumes = BadInputReport(), []
    for file, label in nifti_files(path, split):
        try:
            volumes.append(_describe_volume(file, label, axis))
        except DataError as err:
            report.add(file, err.problem)
    classes = find_classes(path, is_nifti, split) if path.is_dir() else []
    per_class = Counter(v["label"] for v in volumes)
    return {
        "axis": axis,
        "volumes": volumes,
        "images": sum(v["nonempty_slices"] for v in volumes),
        "classes": [{"label": i, "name": name, "volumes": per_class[i]} for i, name in enumerate(classes)],
        "problems": _problems(report),
    }


def _inspect_datalist(path: Path) -> dict[str, Any]:
    report = BadInputReport()
    entries = read_datalist_file(path, split=None, report=report)
    labels = Counter(e["label"] for e in entries if "label" in e)
    return {
        "entries": len(entries),
        "labels": {str(k): v for k, v in sorted(labels.items())},
        "splits": dict(Counter(e["split"] for e in entries if "split" in e)),
        "file_kinds": dict(Counter(image_file_kind(e["image"]) for e in entries if isinstance(e["image"], str))),
        "masks": sum(1 for e in entries if "mask" in e),
        "problems": _problems(report),
    }


def _inspect_npz(path: Path) -> dict[str, Any]:
    splits = []
    for name in npz_splits(path):
        images, labels = load_npz_split(path, name)
        counts = Counter(int(v) for v in labels)
        splits.append({"split": name, "images": int(len(images)), "image_shape": list(images.shape[1:]),
                       "dtype": str(images.dtype), "labels": {str(k): v for k, v in sorted(counts.items())}})
    return {"splits": splits}


def _inspect_raster_file(path: Path) -> dict[str, Any]:
    return _inspect_rasters([(path, None)], [])


def inspect_source(source: str | os.PathLike, *, axis: int = 2, split: str | None = "train",
                   intensity: bool = True) -> dict[str, Any]:
    """Describe a data source.

    Args:
        source: any path :func:`monai_synth.data.build_datalist` accepts.
        axis: NIfTI slicing axis (0 sagittal, 1 coronal, 2 axial).
        split: split folder of a ``train/val/test`` folder layout.
        intensity: DICOM: read every slice to report the intensity range in modality units (slower).

    Returns:
        A JSON-ready dict with ``path``, ``kind`` and the kind's description.

    Raises:
        DataError: the path does not exist or holds no images.
    """
    path = Path(source).expanduser()
    kind = detect_source_kind(path)
    describe = {
        "dicom": lambda: _inspect_dicom(path, intensity),
        "folder": lambda: _inspect_folder(path, split),
        "nifti": lambda: _inspect_nifti(path, axis, split),
        "datalist": lambda: _inspect_datalist(path),
        "npz": lambda: _inspect_npz(path),
        "raster": lambda: _inspect_raster_file(path),
    }[kind]
    return {"path": str(path), "kind": kind, **describe()}


# ----------------------------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 4) -> str:
    return "?" if value is None else f"{value:.{digits}g}"


def _series_line(s: dict[str, Any]) -> list[str]:
    spacing = "x".join(_num(v) for v in s["pixel_spacing"]) + " mm" if s["pixel_spacing"] else "?"
    span = f"{_num(s['min'], 6)} .. {_num(s['max'], 6)} {s['units'] or ''}".rstrip() if s["min"] is not None else "-"
    size = " / ".join(s["sizes"]) or "no image"
    return [
        f"  {s['modality'] or '?':<4} {s['description']!r}{' [SYNTHETIC]' if s.get('synthetic') else ''}: "
        f"{s['slices']} slices ({s['files']} files), {size}"
        f"{', ' + s['plane'] if s['plane'] else ''}",
        f"       pixel spacing {spacing}, slice spacing {_num(s['slice_spacing'])} mm, range {span}",
        f"       series {s['series_uid']}  study {s['study_uid']}",
    ]


def _dicom_text(info: dict[str, Any]) -> list[str]:
    lines = [f"DICOM export: {info['files']} files in {len(info['series'])} series"]
    for series in info["series"]:
        lines += _series_line(series)
    return lines


def _classes_text(info: dict[str, Any], unit: str) -> list[str]:
    return [f"  class {c['label']} {c['name']!r}: {c[unit]} {unit}" for c in info.get("classes", [])]


def _folder_text(info: dict[str, Any]) -> list[str]:
    lines = [f"image folder: {info['images']} images, {len(info['classes'])} classes"]
    lines += _classes_text(info, "images")
    lines.append("  sizes: " + ", ".join(f"{k} ({v})" for k, v in info["sizes"].items()))
    lines.append("  pixel types: " + ", ".join(f"{k} ({v})" for k, v in info["pixel_types"].items()))
    return lines


def _nifti_text(info: dict[str, Any]) -> list[str]:
    lines = [f"NIfTI: {len(info['volumes'])} volumes, {info['images']} non-empty slices along axis {info['axis']}"]
    lines += _classes_text(info, "volumes")
    for v in info["volumes"]:
        lines.append(f"  {v['path']}: {' x '.join(map(str, v['shape']))} voxels of "
                     f"{' x '.join(_num(z) for z in v['zooms'])} mm, {v['nonempty_slices']}/{v['slices']} "
                     f"non-empty slices, range {_num(v['min'], 6)} .. {_num(v['max'], 6)}")
    return lines


def _datalist_text(info: dict[str, Any]) -> list[str]:
    lines = [f"datalist: {info['entries']} entries, {info['masks']} with masks"]
    for key in ("labels", "splits", "file_kinds"):
        if info[key]:
            lines.append(f"  {key.replace('_', ' ')}: " + ", ".join(f"{k}: {v}" for k, v in info[key].items()))
    return lines


def _npz_text(info: dict[str, Any]) -> list[str]:
    lines = ["MedMNIST archive:"]
    for s in info["splits"]:
        labels = ", ".join(f"{k}: {v}" for k, v in s["labels"].items())
        lines.append(f"  {s['split']}: {s['images']} images of {' x '.join(map(str, s['image_shape']))} "
                     f"{s['dtype']}; labels {labels}")
    return lines


def format_inspection(info: dict[str, Any]) -> str:
    """Human-readable text for the dict returned by :func:`inspect_source`."""
    text = {"dicom": _dicom_text, "folder": _folder_text, "nifti": _nifti_text, "datalist": _datalist_text,
            "npz": _npz_text, "raster": _folder_text}[info["kind"]](info)
    problems = info.get("problems") or []
    if problems:
        text.append(f"problems ({len(problems)}):")
        text += [f"  {p['path']}: {p['reason']}" for p in problems[:50]]
        if len(problems) > 50:
            text.append(f"  ... and {len(problems) - 50} more (see --json)")
    return "\n".join([info["path"], *text])
