"""C-GET a study (or one series) into a folder, all or nothing.

Instances arrive in a hidden staging folder next to the output folder, one file per instance at
``<SeriesInstanceUID>/<SOPInstanceUID>.dcm``. Only when every sub-operation succeeded does the staging
folder take the output folder's place; on any failure it is deleted and the output folder is left as it
was. A non-empty output folder is refused unless ``overwrite`` (then its content is replaced).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from monai_synth.deploy.pacs.association import associate, require_pynetdicom
from monai_synth.deploy.pacs.config import PacsConfig
from monai_synth.deploy.pacs.echo import status_text
from monai_synth.deploy.pacs.errors import PacsError

__all__ = ["pull"]

_MAX_STORAGE_CONTEXTS = 127  # a request holds at most 128 presentation contexts; one is the C-GET model


def _check_output(out: Path, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder without ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise PacsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise PacsError(f"{out}: folder is not empty; choose an empty folder or pass --overwrite")


def _store_handler(staging: Path, received: list[Path]) -> Any:
    """A C-STORE handler (the PACS's sub-operations) writing each instance under ``staging``."""

    def handle(event: Any) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        path = staging / str(ds.SeriesInstanceUID) / f"{ds.SOPInstanceUID}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        received.append(path)
        return 0x0000

    return handle


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` in place of ``out`` (whose old content, if any, is removed afterwards)."""
    old = out.parent / f".{out.name}.{secrets.token_hex(6)}.old"
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _get(config: PacsConfig, identifier: Any, staging: Path) -> list[Path]:
    """Run the C-GET; returns the received files."""
    pynetdicom = require_pynetdicom()
    model = pynetdicom.sop_class.StudyRootQueryRetrieveInformationModelGet
    storage = pynetdicom.StoragePresentationContexts[:_MAX_STORAGE_CONTEXTS]
    roles = [pynetdicom.build_role(cx.abstract_syntax, scp_role=True) for cx in storage]
    contexts = [pynetdicom.build_context(model), *storage]
    received: list[Path] = []
    handlers = [(pynetdicom.evt.EVT_C_STORE, _store_handler(staging, received))]
    with associate(config, contexts, roles=roles, handlers=handlers) as assoc:
        last = None
        for status, _ in assoc.send_c_get(identifier, model):
            last = status
            code = int(status.get("Status", -1)) if status is not None else -1
            if code not in (0x0000, 0xFF00):
                raise PacsError(f"PACS {config.name} answered C-GET with {status_text(status)}"
                                f"{_failed_count(status)}")
        if last is None:
            raise PacsError(f"PACS {config.name} gave no answer to C-GET")
    return received


def _failed_count(status: Any) -> str:
    """``; N instances failed`` when the status says so."""
    failed = status.get("NumberOfFailedSuboperations") if status is not None else None
    return f"; {int(failed)} instances failed" if failed else ""


def pull(
    config: PacsConfig,
    out_dir: str | os.PathLike,
    study_uid: str,
    series_uid: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """C-GET the study ``study_uid`` (or only its series ``series_uid``) into ``out_dir``.

    Returns:
        The written files, under ``out_dir``.

    Raises:
        PacsError: output folder not usable, PACS unreachable or refusing, a failed sub-operation, or
            nothing matched the UIDs.
    """
    from pydicom import Dataset

    out = Path(out_dir).absolute()
    _check_output(out, overwrite)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    identifier.StudyInstanceUID = study_uid
    if series_uid:
        identifier.SeriesInstanceUID = series_uid
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{secrets.token_hex(6)}.part"
    staging.mkdir()
    try:
        received = _get(config, identifier, staging)
        if not received:
            what = f"series {series_uid} of study {study_uid}" if series_uid else f"study {study_uid}"
            raise PacsError(f"PACS {config.name} has no instances of {what}")
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [out / p.relative_to(staging) for p in received]
