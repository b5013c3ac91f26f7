"""Fixtures for the writer tests: a small fake CT source file, and the real CT series if present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

REAL_CT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"
SOURCE_PATIENT_NAME = "DOE^JANE"
SOURCE_PATIENT_ID = "PAT-0042-SECRET"


def make_ct_dataset(index: int, study_uid: str, series_uid: str, frame_uid: str, size: int = 16) -> Dataset:
    """A minimal acquired CT slice with a patient, geometry and HU pixels (-1024 .. 1000)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientName, ds.PatientID = SOURCE_PATIENT_NAME, SOURCE_PATIENT_ID
    ds.PatientBirthDate, ds.PatientSex = "19700101", "F"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20200102", "101010", "ACC-77"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
    ds.SeriesNumber, ds.InstanceNumber = 3, index + 1
    ds.Manufacturer, ds.ManufacturerModelName, ds.DeviceSerialNumber = "ACME", "Scanner 9000", "SN-1"
    ds.KVP, ds.SliceThickness, ds.PatientPosition = "120", "2.5", "FFS"
    ds.ImagePositionPatient = [-100.0, -120.0, -50.0 + 2.5 * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.75, 0.75]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
    stored = np.random.default_rng(index).integers(0, 2024, (size, size)).astype(np.uint16)
    ds.PixelData = stored.tobytes()
    return ds


@pytest.fixture
def ct_sources(tmp_path: Path) -> list[Dataset]:
    """Three fake CT slices of one series, written to tmp_path/source and read back (``filename`` set)."""
    folder = tmp_path / "source"
    folder.mkdir()
    uids = (generate_uid(), generate_uid(), generate_uid())
    paths = []
    for index in range(3):
        path = folder / f"ct_{index}.dcm"
        pydicom.dcmwrite(path, make_ct_dataset(index, *uids), enforce_file_format=True)
        paths.append(path)
    return [pydicom.dcmread(path) for path in paths]


@pytest.fixture
def ct_source(ct_sources: list[Dataset]) -> Dataset:
    """The first fake CT slice."""
    return ct_sources[0]


@pytest.fixture
def real_ct() -> list[Dataset]:
    """The real de-identified CT series (slices sorted by position); skipped when absent."""
    if not REAL_CT.is_dir():
        pytest.skip(f"real CT data not found at {REAL_CT}")
    slices = [pydicom.dcmread(path) for path in sorted(REAL_CT.glob("*.dcm"))]
    return sorted(slices, key=lambda ds: float(ds.ImagePositionPatient[2]))
