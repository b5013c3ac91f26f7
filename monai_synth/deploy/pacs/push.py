"""C-STORE every DICOM file of a folder (recursively); other files are skipped and reported."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_synth.deploy.pacs.association import associate, require_pynetdicom
from monai_synth.deploy.pacs.config import PacsConfig
from monai_synth.deploy.pacs.echo import status_text
from monai_synth.deploy.pacs.errors import PacsError

__all__ = ["PushReport", "push_folder"]

_MAX_CONTEXTS = 128


@dataclass
class PushReport:
    """What a push did.

    Attributes:
        sent: files the PACS stored (success or warning status).
        skipped: ``(file, reason)`` of files that are not DICOM instances.
        failed: ``(file, reason)`` of files the PACS refused or that could not be sent.
    """

    sent: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every DICOM file was stored."""
        return not self.failed


def _read_header(path: Path) -> Any | None:
    """The file's header (SOP class and transfer syntax), or None when it is not a DICOM instance."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError):
        return None
    if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds or "TransferSyntaxUID" not in ds.file_meta:
        return None
    return ds


def _dicom_files(folder: Path, report: PushReport) -> list[tuple[Path, str, str]]:
    """``(path, SOP class, transfer syntax)`` of every DICOM instance under ``folder`` (sorted)."""
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        ds = _read_header(path)
        if ds is None:
            report.skipped.append((path, "not a DICOM instance"))
        else:
            files.append((path, str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)))
    return files


def _contexts(files: list[tuple[Path, str, str]]) -> list[Any]:
    """One presentation context per SOP class with the files' transfer syntaxes (plus Explicit/Implicit LE)."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    pynetdicom = require_pynetdicom()
    syntaxes: dict[str, set[str]] = {}
    for _, sop_class, syntax in files:
        syntaxes.setdefault(sop_class, {ExplicitVRLittleEndian, ImplicitVRLittleEndian}).add(syntax)
    if len(syntaxes) > _MAX_CONTEXTS:
        raise PacsError(f"{len(syntaxes)} SOP classes in one push; at most {_MAX_CONTEXTS} fit one association")
    return [pynetdicom.build_context(c, sorted(s)) for c, s in syntaxes.items()]


def _send(assoc: Any, path: Path, report: PushReport) -> None:
    """C-STORE one file and record the result."""
    try:
        status = assoc.send_c_store(path)
    except (ValueError, RuntimeError) as err:  # e.g. no accepted presentation context for this file
        report.failed.append((path, str(err)))
        return
    if status is None or "Status" not in status:
        why = "the PACS aborted the association" if assoc.is_aborted else "no answer (timeout)"
        report.failed.append((path, f"C-STORE refused: {why}"))
        return
    code = int(status.Status)
    if code == 0x0000 or 0xB000 <= code <= 0xBFFF:
        report.sent.append(path)
    else:
        report.failed.append((path, f"C-STORE {status_text(status)}"))


def push_folder(config: PacsConfig, folder: str | os.PathLike) -> PushReport:
    """C-STORE every DICOM file under ``folder``; the report lists sent, skipped and refused files.

    Pushing the same files again stores the same SOP instances again: a PACS keeps one copy per
    SOPInstanceUID, so nothing is duplicated.

    Raises:
        PacsError: not a folder, no DICOM file, PACS unreachable or rejecting the association.
    """
    root = Path(folder)
    if not root.is_dir():
        raise PacsError(f"{root}: not a folder")
    report = PushReport()
    files = _dicom_files(root, report)
    if not files:
        raise PacsError(f"{root}: no DICOM files to push ({len(report.skipped)} other files)")
    with associate(config, _contexts(files)) as assoc:
        for path, _, _ in files:
            if not assoc.is_established:
                report.failed.append((path, "not sent: the association ended after an earlier refusal"))
                continue
            _send(assoc, path, report)
    return report
