"""Who a synthetic DICOM image belongs to: a synthetic patient, unless patient data is asked for.

A generated image gets PatientName ``SYNTHETIC^IMAGE`` and PatientID ``SYNTH-<hash of the study
UID>`` (one synthetic patient per study). Patient (and, for a derived image kept in its source
study, study-level identifying) attributes are copied from a source dataset only on request.
"""

from __future__ import annotations

import copy
import hashlib

from pydicom import Dataset

__all__ = [
    "PATIENT_KEYWORDS",
    "STUDY_KEYWORDS",
    "SYNTHETIC_PATIENT_NAME",
    "copy_keywords",
    "synthetic_patient_id",
]

SYNTHETIC_PATIENT_NAME = "SYNTHETIC^IMAGE"

PATIENT_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
)
"""Patient attributes copied from the source when ``copy_patient=True``."""

STUDY_KEYWORDS: tuple[str, ...] = (
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyID",
    "StudyDescription",
)
"""Study attributes copied with the patient when a derived image stays in its source study."""


def synthetic_patient_id(study_uid: str) -> str:
    """PatientID of a synthetic patient: ``SYNTH-`` plus 16 hex digits of SHA-256(study UID)."""
    return "SYNTH-" + hashlib.sha256(study_uid.encode("ascii")).hexdigest()[:16].upper()


def copy_keywords(target: Dataset, source: Dataset, keywords: tuple[str, ...]) -> None:
    """Deep-copy the listed attributes from ``source`` into ``target`` where ``source`` has them."""
    for keyword in keywords:
        if keyword in source:
            target[keyword] = copy.deepcopy(source[keyword])
