"""CSV and JSON datalist files.

CSV: a header row with at least ``image``; optional ``label`` (class), ``mask``, ``split``,
``frame``, ``axis``, ``index``, ``series_uid``. Other columns are ignored.

JSON: either a list of entries, or a MONAI-style dict of lists (``{"training": [...], "validation": [...],
"test": [...]}``, as read by ``monai.data.load_decathlon_datalist``). Entries are dicts with the keys above,
or plain path strings.

Labels (checked when the datalist is built, each problem naming the file and the row):

- integers must be non-negative (``-1`` is refused); gaps (``0`` and ``999``) are kept but logged, since
  every missing id still counts as a class;
- class names (``"normal"``, ``"pneumonia"``) are mapped to contiguous ids in sorted order, over all rows
  of the file whatever the split, so that every split agrees; :func:`datalist_class_names` (and
  :func:`monai_synth.data.class_names`) return the names in id order, i.e. the mapping;
- a column that mixes integers and names, or holds a fraction (``1.5``), is refused.

MONAI Decathlon datalists (``{"training": [{"image": "imagesTr/x.nii.gz", "label": "labelsTr/x.nii.gz"}],
"test": ["imagesTs/y.nii.gz"]}``): a ``label`` that names an image file is the segmentation mask (``mask``).
An entry whose NIfTI image has no ``frame`` is expanded into one entry per slice along ``axis`` (constant
slices left out with ``skip_empty``); its mask, read with the same ``frame``, follows the slice.

Relative paths are resolved against the folder of the datalist file. When a ``split`` column/key exists
(or the JSON is a dict of lists), only the requested split is returned; ``split=None`` or ``"all"`` returns
every entry.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import BadInputReport, DataError, reject
from .nifti import is_nifti, load_volume, nonempty_slices
from .nonfinite import volume_is_usable

__all__ = ["DATALIST_SUFFIXES", "datalist_class_names", "read_datalist_file", "parse_label"]

logger = logging.getLogger(__name__)

DATALIST_SUFFIXES: frozenset[str] = frozenset({".csv", ".json"})
_PATH_KEYS = ("image", "mask")
_INT_KEYS = ("frame", "axis", "index")
_STR_KEYS = ("series_uid", "split")
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test", "testing": "test"}
_JSON_SPLIT_KEYS = {"train": ("training", "train"), "val": ("validation", "val", "valid"), "test": ("test", "testing")}
#: Endings of a ``label`` value that names a segmentation mask (the Decathlon convention) rather than a class.
_MASK_ENDINGS = (".nii", ".nii.gz", ".png", ".tif", ".tiff", ".dcm", ".nrrd", ".mha", ".npy")


def parse_label(value: Any) -> int:
    """Parse a class label: an integer, or a string/float holding one (``"3"``, ``3.0``).

    Raises:
        ValueError: for anything else (text, fractions, lists, booleans).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"label {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if number == number and number.is_integer():
                return int(number)
    hint = " (segmentation masks go in the 'mask' column/key)" if isinstance(value, str) and "." in value else ""
    raise ValueError(f"label {value!r} is not an integer{hint}")


def _is_mask_path(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().endswith(_MASK_ENDINGS)


def _label_values(rows: list[tuple[str, Any]]) -> list[Any]:
    return [r["label"] for _, r in rows if isinstance(r, Mapping) and r.get("label") not in (None, "")
            and not _is_mask_path(r["label"])]


def _is_integer(value: Any) -> bool:
    try:
        parse_label(value)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    try:
        float(str(value).strip())
    except ValueError:
        return False
    return not isinstance(value, (list, dict, bool))


def label_names(rows: list[tuple[str, Any]]) -> dict[str, int] | None:
    """Class-name -> id mapping when every label of ``rows`` is a name (no integer, no number), else None."""
    values = _label_values(rows)
    if not values or any(_is_number(v) or not isinstance(v, str) for v in values):
        return None
    return {name: i for i, name in enumerate(sorted({v.strip() for v in values}))}


def _check_label(value: Any, names: dict[str, int] | None) -> int:
    """The class id of a raw label value (ValueError names the value and the problem)."""
    if names is not None:
        return names[str(value).strip()]
    try:
        label = parse_label(value)
    except ValueError as err:
        if isinstance(value, str) and not _is_number(value):
            raise ValueError(f"{err}; other rows hold integer labels, and a label column holds either integers "
                             "or class names, not both") from None
        raise
    if label < 0:
        raise ValueError(f"label {label} is negative; class labels are integers 0, 1, 2 ... (or class names)")
    return label


def _normalise_split(value: str | None) -> str | None:
    if value is None or str(value).lower() == "all":
        return None
    return _SPLIT_ALIASES.get(str(value).strip().lower(), str(value).strip().lower())


def _resolve(base: Path, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # in-memory data, kept as is
    return os.path.normpath(os.path.join(base, os.path.expanduser(value.strip())))


def _clean_entry(raw: Mapping, base: Path, names: dict[str, int] | None = None) -> dict:
    """Keep the known keys, resolve paths, check labels, parse numbers (ValueError names the bad field)."""
    if not raw.get("image"):
        raise ValueError("empty 'image'")
    raw = dict(raw)
    if _is_mask_path(raw.get("label")) and raw.get("mask") in (None, ""):
        raw["mask"] = raw.pop("label")  # Decathlon: ``label`` is the segmentation mask
    entry: dict[str, Any] = {}
    for key in _PATH_KEYS:
        if raw.get(key) not in (None, ""):
            entry[key] = _resolve(base, raw[key])
    if "label" in raw:
        entry["label"] = _check_label(raw["label"], names)
    for key in _INT_KEYS:
        if raw.get(key) not in (None, ""):
            try:
                entry[key] = int(str(raw[key]).strip())
            except ValueError:
                raise ValueError(f"{key} {raw[key]!r} is not an integer") from None
    for key in _STR_KEYS:
        if raw.get(key) not in (None, ""):
            entry[key] = str(raw[key]).strip()
    return entry


def _missing_file(entry: dict) -> str | None:
    for key in _PATH_KEYS:
        value = entry.get(key)
        if isinstance(value, str) and not os.path.exists(value):
            return value
    return None


def _read_csv_rows(path: Path) -> list[tuple[str, Mapping]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        fields = [f.strip() for f in reader.fieldnames or []]
        if "image" not in fields:
            raise DataError(f"CSV datalist needs a header row with an 'image' column (found: {fields})", path)
        reader.fieldnames = fields
        return [(f"row {reader.line_num}", row) for row in reader if any((v or "").strip() for v in row.values())]


def _json_lists(data: Any, path: Path, split: str | None) -> list[tuple[str, Any]]:
    if isinstance(data, list):
        return [(f"entry {i}", item) for i, item in enumerate(data)]
    if not isinstance(data, dict):
        raise DataError("JSON datalist must be a list of entries or a dict of lists", path)
    lists = {k: v for k, v in data.items() if isinstance(v, list)}
    if split is None:
        keys = list(lists)
    else:
        keys = [k for k in _JSON_SPLIT_KEYS.get(split, (split,)) if k in lists][:1]
    if not keys:
        raise DataError(f"no list for split '{split}' (found: {', '.join(lists) or 'none'})", path)
    return [(f"{k}[{i}]", item) for k in keys for i, item in enumerate(lists[k])]


def _read_json_rows(path: Path, split: str | None) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """``(all rows, rows of the split's list)`` of a JSON datalist."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as err:
        raise DataError(f"not valid JSON ({err})", path) from err

    def wrap(rows: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        return [(where, {"image": item} if isinstance(item, str) else item) for where, item in rows]

    return wrap(_json_lists(data, path, None)), wrap(_json_lists(data, path, split))


def _read_rows(path: Path, split: str | None) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """``(all rows, rows of the split)`` of a CSV or JSON datalist."""
    try:
        if path.suffix.lower() == ".csv":
            rows = _read_csv_rows(path)
            return rows, _filter_split(rows, split, path)
        every, listed = _read_json_rows(path, split)
        return every, _filter_split(listed, split, path)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read datalist ({err})", path) from err


def _warn_label_gaps(entries: list[dict], path: Path) -> None:
    labels = sorted({e["label"] for e in entries if "label" in e})
    if labels and len(labels) != labels[-1] + 1:
        missing = labels[-1] + 1 - len(labels)
        logger.warning("%s: labels %s leave %d class id(s) without images; the models will have %d classes",
                       path, ", ".join(map(str, labels[:10])) + (" ..." if len(labels) > 10 else ""), missing,
                       labels[-1] + 1)


def datalist_class_names(path: str | os.PathLike) -> list[str]:
    """Class names of a CSV/JSON datalist in id order: the names when labels are names, else ``"0"`` .. max.

    Args:
        path: the ``.csv`` or ``.json`` file.
    """
    path = Path(path)
    every, _ = _read_rows(path, None)
    names = label_names(every)
    if names is not None:
        return sorted(names, key=names.__getitem__)
    labels = [parse_label(v) for v in _label_values(every) if _is_integer(v)]
    return [str(i) for i in range(max(labels) + 1)] if labels else []


def _filter_split(rows: list[tuple[str, Mapping]], split: str | None, path: Path) -> list[tuple[str, Mapping]]:
    if split is None or not any(isinstance(r, Mapping) and r.get("split") for _, r in rows):
        return rows
    kept = [(w, r) for w, r in rows if _normalise_split(r.get("split")) == split]
    if not kept:
        found = sorted({str(r.get("split")) for _, r in rows if isinstance(r, Mapping)})
        raise DataError(f"no entries with split '{split}' (found: {', '.join(found)})", path)
    return kept


def read_datalist_file(path: str | os.PathLike, *, split: str | None = "train",
                       report: BadInputReport | None = None, axis: int = 2, skip_empty: bool = True,
                       nonfinite: str = "error", notes: BadInputReport | None = None) -> list[dict]:
    """Read a CSV or JSON datalist, resolving paths and checking labels and files.

    Args:
        path: the ``.csv`` or ``.json`` file.
        split: which split to keep when the file has splits (``train``/``val``/``test``); None or ``"all"``
            keeps everything.
        report: where to list bad rows (None: raise :class:`DataError` on the first one).
        axis: slicing axis for NIfTI volumes listed without ``frame`` (Decathlon datalists).
        skip_empty: leave out constant slices of such volumes.
        nonfinite: such volumes with NaN/Inf voxels: ``"error"`` (bad input) or ``"replace"`` (recorded in
            ``notes``); see :mod:`monai_synth.data.nonfinite`.
        notes: where replacements are recorded.

    Returns:
        The entries, with absolute paths and class ids (see the module docstring for labels).

    Raises:
        DataError: unreadable file, no ``image`` column, unknown split, or (without ``report``) a row with
            a missing file or a bad label (negative, fractional, mixed integers and names).
    """
    path = Path(path)
    split = _normalise_split(split)
    every, rows = _read_rows(path, split)
    names = label_names(every)
    base = path.resolve().parent
    entries = []
    for where, raw in rows:
        if not isinstance(raw, Mapping):
            reject(path, f"{where}: entry is not a dict or a path string", report)
            continue
        try:
            entry = _clean_entry(raw, base, names)
        except ValueError as err:
            reject(path, f"{where}: {err}", report)
            continue
        missing = _missing_file(entry)
        if missing:
            reject(missing, f"file not found ({where} of {path})", report)
            continue
        entries += _expand_volume(entry, where, path, (axis, skip_empty, nonfinite), report, notes)
    _warn_label_gaps(entries, path)
    return entries


def _expand_volume(entry: dict, where: str, path: Path, options: tuple[int, bool, str],
                   report: BadInputReport | None, notes: BadInputReport | None) -> list[dict]:
    """A NIfTI entry without ``frame`` -> one entry per (non-constant) slice; other entries unchanged.

    ``options`` is ``(axis, skip_empty, nonfinite)``.
    """
    axis, skip_empty, nonfinite = options
    image = entry["image"]
    if not isinstance(image, str) or not is_nifti(image) or "frame" in entry:
        return [entry]
    axis = int(entry.get("axis", axis))
    try:
        volume, _ = load_volume(image)
        if "mask" in entry and is_nifti(entry["mask"]) and load_volume(entry["mask"])[0].shape != volume.shape:
            raise DataError(f"mask {entry['mask']} has shape {load_volume(entry['mask'])[0].shape}, the image "
                            f"{volume.shape} ({where} of {path})", image)
    except DataError as err:
        reject(err.path or image, err.problem, report)
        return []
    if not volume_is_usable(volume, image, nonfinite, report, notes):
        return []
    frames = nonempty_slices(volume, axis) if skip_empty else range(volume.shape[axis])
    return [{**entry, "frame": int(k), "axis": axis} for k in frames]
