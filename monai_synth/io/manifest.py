"""Provenance manifest: one JSON line per written file in ``<output_dir>/manifest.jsonl``.

A line is appended, flushed and fsynced only after its file is in place, so every complete line
names a complete file. A line cut short by a crash is removed when the manifest is next opened.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from monai_synth import __version__

__all__ = ["MANIFEST_FIELDS", "MANIFEST_NAME", "ManifestWriter", "read_manifest", "sha256_file"]

MANIFEST_NAME = "manifest.jsonl"
MANIFEST_FIELDS: tuple[str, ...] = (
    "model",
    "checkpoint_sha256",
    "seed",
    "condition",
    "sampler",
    "steps",
    "guidance_scale",
    "window",
    "format",
)
"""Provenance fields every line carries (``None`` when unknown), besides file/synthetic/written_at."""


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    """JSON form of numpy scalars/arrays, paths, tensors and tuples (``json.dumps`` default hook)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return np.asarray(list(value) if isinstance(value, set) else value).tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"manifest value of type {type(value).__name__} is not JSON serialisable: {value!r}")


def _drop_partial_line(path: Path) -> None:
    """Cut a trailing line without newline (a write interrupted by a crash) from the manifest."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    with open(path, "r+b") as handle:
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def _compact(path: Path) -> set[str]:
    """Keep only the last record of each file (a re-run rewrote it), atomically; return the files listed.

    A killed and re-run command writes its files again under the same names: the manifest must then list
    each file once, with the record of the run that made the file now on disk.
    """
    if not path.exists():
        return set()
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    last: dict[str, str] = {}
    for line in lines:
        last.pop(key := json.loads(line).get("file"), None)
        last[key] = line  # re-inserted: the order of the last writes is kept
    if len(last) < len(lines):
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in last.values()))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    return set(last)


def read_manifest(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All records of ``<output_dir>/manifest.jsonl`` (an empty list when there is none)."""
    path = Path(output_dir) / MANIFEST_NAME
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class ManifestWriter:
    """Append provenance records to ``<output_dir>/manifest.jsonl``, one fsynced JSON line per file.

    Example:
        >>> with ManifestWriter(out) as manifest:  # doctest: +SKIP
        ...     manifest.write(out / "img_0.png", model="medfusion", seed=0, condition={"class_label": 1})

    Args:
        output_dir: folder holding the written files and the manifest (created if missing).
    """

    def __init__(self, output_dir: str | os.PathLike) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.output_dir / MANIFEST_NAME
        self._handle: TextIO | None = None
        self._listed: set[str] = set()
        self._rewritten = False

    def _open(self) -> TextIO:
        """The append handle, opened on first use (after dropping a partial last line)."""
        if self._handle is None:
            _drop_partial_line(self.path)
            self._listed = _compact(self.path)
            self._handle = open(self.path, "a", encoding="utf-8")
        return self._handle

    def _relative(self, file: str | os.PathLike) -> str:
        """``file`` relative to the output folder, with forward slashes."""
        path = Path(file)
        path = path if path.is_absolute() else Path.cwd() / path
        try:
            return path.resolve().relative_to(self.output_dir.resolve()).as_posix()
        except ValueError:
            raise ValueError(f"{os.fspath(file)} is not inside the manifest folder {self.output_dir}") from None

    def record(self, file: str | os.PathLike, fields: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """The manifest record for ``file`` (not written): fixed keys first, then extra keys."""
        given = {**(fields or {}), **extra}
        record: dict[str, Any] = {"file": self._relative(file), "synthetic": True}
        record.update({key: given.pop(key, None) for key in MANIFEST_FIELDS})
        record.update(given)
        record["synthetic"] = True
        record["written_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        record["monai_synth_version"] = __version__
        return record

    def write(self, file: str | os.PathLike, fields: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """Append the record of a file that is already in place; the line is flushed and fsynced.

        Args:
            file: path of the written file, inside ``output_dir``.
            fields: provenance fields (see ``MANIFEST_FIELDS``: model, checkpoint_sha256, seed,
                condition such as ``{"class_label": 1}`` or ``{"source": path}``, sampler, steps,
                guidance_scale, window, format); any other keys are kept as well.
            **extra: more fields, overriding ``fields``.

        Returns:
            The record written.

        Raises:
            FileNotFoundError: when ``file`` does not exist (a line is written only for a real file).
            ValueError: when ``file`` is outside ``output_dir``.
        """
        if not Path(file).is_file():
            raise FileNotFoundError(f"manifest entry for a missing file: {os.fspath(file)}")
        record = self.record(file, fields, **extra)
        line = json.dumps(record, default=_jsonable, ensure_ascii=False, allow_nan=False) + "\n"
        handle = self._open()
        self._rewritten |= record["file"] in self._listed
        self._listed.add(record["file"])
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
        return record

    def close(self) -> None:
        """Close the manifest file (it reopens on the next write)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            if self._rewritten:  # files written again: one line per file, the newest
                _compact(self.path)
                self._rewritten = False

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
