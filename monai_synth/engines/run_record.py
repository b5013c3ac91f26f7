"""A run folder knows what made it: the settings and a fingerprint of the dataset, checked on every rerun.

Running the same command again resumes or reports on a finished run. Running it with other data or other
settings into the same folder would mix two trainings in one set of weights, or report on weights under the
name of data they never saw; it is refused with a message saying what differs. Settings that cannot change
the weights (logging, checkpoint cadence, device, evaluation and report settings) are accepted and named.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from monai_synth.io.atomic import atomic_open

logger = logging.getLogger("monai_synth")

#: datasets up to this many bytes are fingerprinted by content (sha256); larger ones by size and mtime
HASH_LIMIT_BYTES = 256 * 1024 * 1024


class RunFolderMismatchError(ValueError):
    """The run folder was made from other data or other settings than this run's."""


def dataset_fingerprint(files: Iterable[str | os.PathLike], hash_limit: int = HASH_LIMIT_BYTES) -> dict[str, Any]:
    """File list with sizes and mtimes of a dataset, plus content hashes when it totals at most ``hash_limit`` bytes.

    Args:
        files: the files the datalist reads (images and masks); none for generated data (phantom).
        hash_limit: total size under which every file is hashed.
    """
    paths = sorted({str(Path(f).resolve()) for f in files})
    entries = [{"file": p, "size": os.path.getsize(p), "mtime_ns": os.stat(p).st_mtime_ns} for p in paths]
    total = sum(e["size"] for e in entries)
    hashed = total <= hash_limit
    if hashed:
        for e in entries:
            e["sha256"] = _sha256(e["file"])
    digest = hashlib.sha256(json.dumps([[e["file"], e["size"], e.get("sha256")] for e in entries]).encode())
    return {"num_files": len(entries), "total_bytes": total, "content_hashed": hashed,
            "digest": digest.hexdigest(), "files": entries}  # fmt: skip


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dataset_differences(recorded: Mapping[str, Any], current: Mapping[str, Any], limit: int = 5) -> list[str]:
    """What differs between two fingerprints, in words (empty: the same data)."""
    old = {e["file"]: e for e in recorded.get("files", [])}
    new = {e["file"]: e for e in current.get("files", [])}
    by_content = recorded.get("content_hashed") and current.get("content_hashed")
    keys = ("size", "sha256") if by_content else ("size", "mtime_ns")
    changed = sorted(f for f in old.keys() & new.keys() if any(old[f].get(k) != new[f].get(k) for k in keys))
    everything = list(old.keys() | new.keys())
    root = os.path.commonpath(everything) if len(everything) > 1 else ""
    out = []
    for label, names in (("missing", sorted(old.keys() - new.keys())), ("new", sorted(new.keys() - old.keys())),
                         ("changed", changed)):  # fmt: skip
        if names:
            names = [os.path.relpath(n, root) if root else n for n in names]
            shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
            out.append(f"{len(names)} {label} file(s): {shown}" + (f" (in {root})" if root else ""))
    return out


def settings_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (recorded, current)}`` for every setting that differs."""
    keys = recorded.keys() | current.keys()
    return {k: (recorded.get(k), current.get(k)) for k in sorted(keys) if recorded.get(k) != current.get(k)}


def check_run_record(record_path: str | os.PathLike, settings: Mapping[str, Any], dataset: Mapping[str, Any],
                     harmless: Iterable[str] = (), write: bool = True) -> dict[str, Any]:
    """Write the run record on a first run; on a rerun, refuse other data or settings, accept harmless changes.

    Args:
        record_path: the record file (``run_record.json`` in the run or phase folder).
        settings: this run's settings (JSON-able values).
        dataset: this run's ``dataset_fingerprint``.
        harmless: setting names that do not change the weights.
        write: write the record (False on ranks other than 0 of a distributed run, which only check).

    Returns:
        The record as written: the recorded dataset and settings, harmless settings updated to this run's.

    Raises:
        RunFolderMismatchError: naming the record file and what differs.
    """
    path = Path(record_path)
    settings = _jsonable(settings)
    record = {"settings": settings, "dataset": dict(dataset)}
    if path.is_file():
        old = json.loads(path.read_text())
        problems = dataset_differences(old["dataset"], dataset)
        diffs = settings_differences(old["settings"], settings)
        strict = {k: v for k, v in diffs.items() if k not in set(harmless)}
        problems += [f"setting {k!r}: {a!r} in the run folder, {b!r} now" for k, (a, b) in strict.items()]
        if problems:
            raise RunFolderMismatchError(
                f"{path}: this run folder was made from other data or settings: " + "; ".join(problems)
                + ". Choose a new output_dir, or rerun with the recorded settings and data."
            )
        if diffs:
            logger.info("%s: resuming with changed settings that do not change the weights: %s", path,
                        ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diffs.items()))
        record = {**old, "settings": settings, "dataset": old["dataset"]}  # keeps what the run added (budget)
    if write:
        _write_json(record, path)
    return record


def add_to_run_record(record_path: str | os.PathLike, key: str, value: Any) -> None:
    """Add one entry (e.g. ``budget``: planned and spent seconds) to an existing run record, atomically."""
    path = Path(record_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no run record to add {key!r} to")
    record = json.loads(path.read_text())
    record[key] = _jsonable(value)
    _write_json(record, path)


def _jsonable(value: Any) -> Any:
    """Settings as plain JSON values (paths and devices as strings, tuples as lists)."""
    return json.loads(json.dumps(value, default=str))


def _write_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:
        handle.write(json.dumps(obj, indent=2).encode("utf-8"))
