"""CSV and JSON datalist files.

CSV: a header row with at least ``image``; optional ``label`` (integer class), ``mask``, ``split``,
``frame``, ``axis``, ``index``, ``series_uid``. Other columns are ignored.

JSON: either a list of entries, or a MONAI-style dict of lists (``{"training": [...], "validation": [...],
"test": [...]}``, as read by ``monai.data.load_decathlon_datalist``). Entries are dicts with the keys above,
or plain path strings.

Relative paths are resolved against the folder of the datalist file. When a ``split`` column/key exists
(or the JSON is a dict of lists), only the requested split is returned; ``split=None`` or ``"all"`` returns
every entry.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import BadInputReport, DataError, reject

__all__ = ["DATALIST_SUFFIXES", "read_datalist_file", "parse_label"]

DATALIST_SUFFIXES: frozenset[str] = frozenset({".csv", ".json"})
_PATH_KEYS = ("image", "mask")
_INT_KEYS = ("frame", "axis", "index")
_STR_KEYS = ("series_uid", "split")
_SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test", "testing": "test"}
_JSON_SPLIT_KEYS = {"train": ("training", "train"), "val": ("validation", "val", "valid"), "test": ("test", "testing")}


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


def _normalise_split(value: str | None) -> str | None:
    if value is None or str(value).lower() == "all":
        return None
    return _SPLIT_ALIASES.get(str(value).strip().lower(), str(value).strip().lower())


def _resolve(base: Path, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # in-memory data, kept as is
    return os.path.normpath(os.path.join(base, os.path.expanduser(value.strip())))


def _clean_entry(raw: Mapping, base: Path) -> dict:
    """Keep the known keys, resolve paths, parse numbers (ValueError names the bad field)."""
    if not raw.get("image"):
        raise ValueError("empty 'image'")
    entry: dict[str, Any] = {}
    for key in _PATH_KEYS:
        if raw.get(key) not in (None, ""):
            entry[key] = _resolve(base, raw[key])
    if "label" in raw:
        entry["label"] = parse_label(raw["label"])
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


def _read_json_rows(path: Path, split: str | None) -> list[tuple[str, Any]]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as err:
        raise DataError(f"not valid JSON ({err})", path) from err
    rows = _json_lists(data, path, split)
    return [(where, {"image": item} if isinstance(item, str) else item) for where, item in rows]


def _filter_split(rows: list[tuple[str, Mapping]], split: str | None, path: Path) -> list[tuple[str, Mapping]]:
    if split is None or not any(isinstance(r, Mapping) and r.get("split") for _, r in rows):
        return rows
    kept = [(w, r) for w, r in rows if _normalise_split(r.get("split")) == split]
    if not kept:
        found = sorted({str(r.get("split")) for _, r in rows if isinstance(r, Mapping)})
        raise DataError(f"no entries with split '{split}' (found: {', '.join(found)})", path)
    return kept


def read_datalist_file(path: str | os.PathLike, *, split: str | None = "train",
                       report: BadInputReport | None = None) -> list[dict]:
    """Read a CSV or JSON datalist, resolving paths and checking labels and files.

    Args:
        path: the ``.csv`` or ``.json`` file.
        split: which split to keep when the file has splits (``train``/``val``/``test``); None or ``"all"``
            keeps everything.
        report: where to list bad rows (None: raise :class:`DataError` on the first one).

    Returns:
        The entries, with absolute paths.

    Raises:
        DataError: unreadable file, no ``image`` column, unknown split, or (without ``report``) a row with
            a missing file or a label that is not an integer.
    """
    path = Path(path)
    split = _normalise_split(split)
    try:
        rows = _read_csv_rows(path) if path.suffix.lower() == ".csv" else _read_json_rows(path, split)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read datalist ({err})", path) from err
    base = path.resolve().parent
    entries = []
    for where, raw in _filter_split(rows, split, path):
        if not isinstance(raw, Mapping):
            reject(path, f"{where}: entry is not a dict or a path string", report)
            continue
        try:
            entry = _clean_entry(raw, base)
        except ValueError as err:
            reject(path, f"{where}: {err}", report)
            continue
        missing = _missing_file(entry)
        if missing:
            reject(missing, f"file not found ({where} of {path})", report)
            continue
        entries.append(entry)
    return entries
