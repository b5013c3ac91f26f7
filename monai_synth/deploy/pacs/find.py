"""C-FIND at study and series level (Study Root query model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monai_synth.deploy.pacs.association import associate, require_pynetdicom
from monai_synth.deploy.pacs.config import PacsConfig
from monai_synth.deploy.pacs.echo import status_text
from monai_synth.deploy.pacs.errors import PacsError

__all__ = ["SERIES_KEYS", "STUDY_KEYS", "find", "find_series", "find_studies"]

STUDY_KEYS: tuple[str, ...] = (
    "StudyInstanceUID", "PatientID", "PatientName", "StudyDate", "StudyDescription", "AccessionNumber",
    "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
)
"""Attributes asked for (and matched, when given a value) at study level."""

SERIES_KEYS: tuple[str, ...] = (
    "StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)
"""Attributes asked for (and matched, when given a value) at series level."""


def _identifier(level: str, keys: tuple[str, ...], match: Mapping[str, Any]) -> Any:
    """The C-FIND identifier: every key asked for, with the values to match."""
    from pydicom import Dataset

    unknown = sorted(set(match) - set(keys))
    if unknown:
        raise ValueError(f"cannot match {unknown} at {level} level; use some of {list(keys)}")
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for key in keys:
        setattr(ds, key, "" if match.get(key) is None else match[key])
    return ds


def _answer(identifier: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """One match as a plain dict (numbers as int, person names as str)."""
    row: dict[str, Any] = {}
    for key in keys:
        value = identifier.get(key)
        if value is None or value == "":
            row[key] = None
        elif key.startswith("NumberOf") or key == "SeriesNumber":
            row[key] = int(value)
        elif key == "ModalitiesInStudy" and not isinstance(value, str):
            row[key] = "\\".join(str(v) for v in value)
        else:
            row[key] = str(value)
    return row


def find(config: PacsConfig, level: str, match: Mapping[str, Any]) -> list[dict[str, Any]]:
    """C-FIND at ``level`` ("STUDY" or "SERIES") with ``match`` (keyword -> value; wildcards allowed).

    Returns:
        One dict per match with every key of the level (None where the PACS gave no value).

    Raises:
        PacsError: unreachable, rejected, or the PACS answered with a failure.
        ValueError: a key that cannot be matched at this level.
    """
    pynetdicom = require_pynetdicom()
    keys = STUDY_KEYS if level == "STUDY" else SERIES_KEYS
    query = _identifier(level, keys, match)
    model = pynetdicom.sop_class.StudyRootQueryRetrieveInformationModelFind
    rows: list[dict[str, Any]] = []
    with associate(config, [pynetdicom.build_context(model)]) as assoc:
        for status, identifier in assoc.send_c_find(query, model):
            code = int(status.get("Status", -1)) if status is not None else -1
            if code in (0xFF00, 0xFF01) and identifier is not None:
                rows.append(_answer(identifier, keys))
            elif code != 0x0000:
                raise PacsError(f"PACS {config.name} answered C-FIND with {status_text(status)}")
    return rows


def find_studies(config: PacsConfig, **match: Any) -> list[dict[str, Any]]:
    """Studies matching ``match`` (e.g. ``PatientID="123"``, ``StudyDate="20240101-"``)."""
    return find(config, "STUDY", match)


def find_series(config: PacsConfig, study_uid: str, **match: Any) -> list[dict[str, Any]]:
    """Series of the study ``study_uid`` matching ``match`` (e.g. ``Modality="CT"``)."""
    return find(config, "SERIES", {"StudyInstanceUID": study_uid, **match})
