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
    "ANNEX_E_BASIC_REMOVED",
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


ANNEX_E_BASIC_REMOVED: frozenset[str] = frozenset({
    # Acquisition (group 0018) attributes that DICOM PS3.15 Annex E, Table E.1-1, Basic Application Level
    # Confidentiality Profile removes, blanks or replaces (X, Z, D, X/D, X/Z/D ...). Derived images copy the
    # acquisition parameters of their source; these identifying ones are left out unless a caller keeps
    # them on purpose (``copy_acquisition(..., keep=...)``).
    "ContrastBolusAgent",
    "DeviceSerialNumber",
    "DeviceUID",
    "PlateID",
    "GeneratorID",
    "CassetteID",
    "GantryID",
    "UniqueDeviceIdentifier",
    "UDISequence",
    "ProtocolName",
    "AcquisitionDeviceProcessingDescription",
    "AcquisitionComments",
    "TransducerIdentificationSequence",
    "DetectorID",
    "RespiratoryMotionCompensationTechniqueDescription",
    "XRaySourceID",
    "XRayDetectorID",
    "XRayDetectorLabel",
    "MultienergyAcquisitionDescription",
    "DecompositionDescription",
    "AcquisitionProtocolDescription",
    "StartAcquisitionDateTime",
    "EndAcquisitionDateTime",
    "RequestedSeriesDescription",
    "ContributionDateTime",
    "ContributionDescription",
    "AcquisitionFieldOfViewLabel",
})
"""Group-0018 keywords that the Annex E basic profile does not let through unchanged."""


def synthetic_patient_id(study_uid: str) -> str:
    """PatientID of a synthetic patient: ``SYNTH-`` plus 16 hex digits of SHA-256(study UID)."""
    return "SYNTH-" + hashlib.sha256(study_uid.encode("ascii")).hexdigest()[:16].upper()


def copy_keywords(target: Dataset, source: Dataset, keywords: tuple[str, ...]) -> None:
    """Deep-copy the listed attributes from ``source`` into ``target`` where ``source`` has them."""
    for keyword in keywords:
        if keyword in source:
            target[keyword] = copy.deepcopy(source[keyword])
