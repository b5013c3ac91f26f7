"""Errors raised on bad input data, and the report that collects skipped inputs.

Every reader in :mod:`monai_synth.data` raises :class:`DataError` when a file cannot be used, with a message
that names the file and the problem. When a caller asks to skip bad inputs (``skip_bad=True``), the same
problems are collected in a :class:`BadInputReport` instead, which can be logged and written to disk.
"""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

__all__ = ["DataError", "BadInput", "BadInputReport", "reject"]

logger = logging.getLogger(__name__)


class DataError(ValueError):
    """A data source or file that cannot be used, with the file and the problem in the message.

    Args:
        problem: what is wrong, in the user's words (e.g. ``"no pixel data (Comprehensive SR Storage)"``).
        path: the file or folder at fault; prefixed to the message when given.

    Attributes:
        problem: the problem alone, without the path.
        path: the file or folder at fault as a string, or ``None``.
    """

    def __init__(self, problem: str, path: str | os.PathLike | None = None) -> None:
        self.problem = str(problem)
        self.path = None if path is None else str(path)
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")

    def __reduce__(self):  # keep (problem, path) through pickling, e.g. out of DataLoader workers
        return type(self), (self.problem, self.path)


class BadInput(NamedTuple):
    """One skipped input: the file (or folder, or ``file#row``) and the reason it was skipped."""

    path: str
    reason: str


class BadInputReport(list):
    """A list of :class:`BadInput` ``(path, reason)`` entries collected while building a datalist.

    Pass one to ``build_datalist(..., skip_bad=True, report=report)`` to see what was left out; it can be
    logged, printed or written to a CSV file (columns ``path,reason``).
    """

    def add(self, path: str | os.PathLike, reason: str) -> None:
        """Record one skipped input.

        Args:
            path: the file at fault.
            reason: why it was skipped.
        """
        self.append(BadInput(str(path), str(reason)))

    def log(self, log: logging.Logger | None = None, limit: int = 20) -> None:
        """Log a warning summarising the skipped inputs (the first ``limit`` in full).

        Args:
            log: logger to use (default: this module's logger).
            limit: how many entries to spell out.
        """
        if not self:
            return
        log = log or logger
        lines = [f"  {item.path}: {item.reason}" for item in self[:limit]]
        more = f"\n  ... and {len(self) - limit} more" if len(self) > limit else ""
        log.warning("skipped or repaired %d input(s):\n%s%s", len(self), "\n".join(lines), more)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report as CSV (``path,reason``), atomically; input files are not touched.

        Args:
            path: destination CSV file; its folder is created if needed.

        Returns:
            The path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["path", "reason"])
                writer.writerows(self)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def __str__(self) -> str:
        return "\n".join(f"{item.path}: {item.reason}" for item in self) or "no bad inputs"


def reject(path: str | os.PathLike, problem: str, report: BadInputReport | None) -> None:
    """Raise :class:`DataError` for a bad input, or record it in ``report`` when skipping bad inputs.

    Args:
        path: the file at fault.
        problem: what is wrong with it.
        report: where to record the problem; ``None`` means bad inputs are not skipped, so this raises.

    Raises:
        DataError: when ``report`` is ``None``.
    """
    if report is None:
        raise DataError(problem, path)
    report.add(path, problem)
