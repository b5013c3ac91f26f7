"""Synthetic DICOM: marks, identity, UIDs, HU round trip, derived geometry, series, file validity."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom import config
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import (
    UID,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
)

import monai_synth
from monai_synth.io import write_dicom_series, write_synthetic_dicom

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
SC_TYPE1 = (
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality", "ConversionType",
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored",
    "HighBit", "PixelRepresentation", "PixelData",
)  # fmt: skip
SC_TYPE2 = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "SeriesNumber", "InstanceNumber",
    "PatientOrientation",
)  # fmt: skip


def _hu(ds: Dataset) -> np.ndarray:
    """Pixel values after the Modality LUT, read the way a viewer would."""
    return apply_modality_lut(ds.pixel_array, ds)


def _purpose_codes(ds: Dataset) -> set[tuple[str, str, str]]:
    return {
        (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning)
        for item in ds.ContributingEquipmentSequence
        for code in item.PurposeOfReferenceCodeSequence
    }


def _synthesizer(ds: Dataset) -> Dataset:
    (item,) = [i for i in ds.ContributingEquipmentSequence if i.PurposeOfReferenceCodeSequence[0].CodeValue == "109100"]
    return item


def _assert_marked_synthetic(ds: Dataset) -> None:
    assert ds.SyntheticData == "YES"
    assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert ("109100", "DCM", "Synthesizing Equipment") in _purpose_codes(ds)
    assert _synthesizer(ds).Manufacturer == "monai_synth"
    assert _synthesizer(ds).SoftwareVersions == monai_synth.__version__
    assert ds.SeriesDescription.startswith("SYNTHETIC")
    assert "Synthetic" in ds.DerivationDescription
    assert ds.BurnedInAnnotation == "NO"


def test_synthetic_secondary_capture_is_marked_and_anonymous(tmp_path: Path, ct_source: Dataset) -> None:
    hu = np.random.default_rng(0).uniform(-1300, 1800, (1, 12, 10))
    path = write_synthetic_dicom(
        hu, tmp_path / "gen.dcm", modality="CT", window=(-600, 1500), source=ct_source, model="medfusion"
    )
    ds = pydicom.dcmread(path, force=False)
    _assert_marked_synthetic(ds)
    assert ds.SOPClassUID == SecondaryCaptureImageStorage
    assert ds.ConversionType == "SYN" and ds.Modality == "CT"
    assert ds.SeriesDescription == "SYNTHETIC - medfusion"
    for keyword in (*UID_KEYWORDS, "FrameOfReferenceUID"):
        assert ds.get(keyword) != ct_source.get(keyword)
    assert ds.PatientName == "SYNTHETIC^IMAGE" and ds.PatientID.startswith("SYNTH-")
    raw = path.read_bytes()
    for value in (str(ct_source.PatientName), ct_source.PatientID, ct_source.AccessionNumber, "19700101"):
        assert value.encode() not in raw, value
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == ct_source.SOPInstanceUID
    np.testing.assert_array_less(np.abs(_hu(ds) - hu[0]), 1.0)
    assert (float(ds.WindowCenter), float(ds.WindowWidth)) == (-600.0, 1500.0)
    assert ds.RescaleType == "HU" and ds.PixelRepresentation == 0


def test_file_is_valid_part10(tmp_path: Path) -> None:
    path = write_synthetic_dicom(np.full((4, 6), -1000.0), tmp_path / "gen.dcm", modality="CT", window=(40, 400))
    raw = path.read_bytes()
    assert raw[:128] == b"\x00" * 128 and raw[128:132] == b"DICM"
    ds = pydicom.dcmread(path, force=False)
    meta = ds.file_meta
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert UID(meta.ImplementationClassUID).is_valid
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    for keyword in (*UID_KEYWORDS, "SOPClassUID"):
        assert UID(ds[keyword].value).is_valid
    for keyword in SC_TYPE1:
        assert keyword in ds and ds[keyword].value not in (None, ""), keyword
    for keyword in SC_TYPE2:
        assert keyword in ds, keyword
    with config.strict_reading():
        strict = pydicom.dcmread(path, force=False)
        strict.decode()
        for element in strict.iterall():
            _ = element.value  # every value parses under strict validation
    assert hd.imread(path).get_frame(1).min() == -1000.0


def _as_class(source: Dataset, sop_class: str, modality: str, **attributes: str) -> Dataset:
    """A copy of ``source`` pretending to be another SOP class."""
    other = copy.deepcopy(source)
    other.SOPClassUID, other.Modality = sop_class, modality
    for keyword, value in attributes.items():
        setattr(other, keyword, value)
    return other


def test_derived_mr_and_other_classes(tmp_path: Path, ct_source: Dataset) -> None:
    mr_source = _as_class(ct_source, MRImageStorage, "MR", ScanningSequence="SE", SequenceVariant="NONE")
    intensities = np.random.default_rng(4).uniform(0, 900, (16, 16))
    mr = pydicom.dcmread(write_synthetic_dicom(intensities, tmp_path / "mr.dcm", derived_from=mr_source))
    assert (mr.SOPClassUID, mr.Modality) == (MRImageStorage, "MR")
    assert (float(mr.RescaleSlope), float(mr.RescaleIntercept)) == (1.0, 0.0)  # MR IOD has no Modality LUT
    assert np.abs(_hu(mr) - intensities).max() <= 0.5
    dx_source = _as_class(ct_source, DigitalXRayImageStorageForPresentation, "DX")
    dx = pydicom.dcmread(write_synthetic_dicom(intensities, tmp_path / "dx.dcm", derived_from=dx_source))
    assert (dx.SOPClassUID, dx.Modality, dx.ConversionType) == (SecondaryCaptureImageStorage, "DX", "SYN")
    assert dx.StudyInstanceUID == ct_source.StudyInstanceUID and dx.SyntheticData == "YES"


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools' dciodvfy is not installed")
def test_dciodvfy_reports_no_errors(tmp_path: Path, ct_source: Dataset) -> None:
    mr_source = _as_class(ct_source, MRImageStorage, "MR", ScanningSequence="SE", SequenceVariant="NONE")
    dx_source = _as_class(ct_source, DigitalXRayImageStorageForPresentation, "DX")
    paths = [
        write_synthetic_dicom(np.zeros((8, 8)), tmp_path / "sc.dcm", modality="CT", window=(40, 400)),
        write_synthetic_dicom(np.zeros((3, 8, 8)), tmp_path / "rgb.dcm"),
        *write_dicom_series(np.zeros((2, 8, 8)), tmp_path / "series"),
    ]
    for index, source in enumerate((ct_source, mr_source, dx_source)):
        paths.append(write_synthetic_dicom(np.zeros((16, 16)), tmp_path / f"der{index}.dcm", derived_from=source))
    for path in paths:
        result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
        errors = [
            line
            for line in (result.stdout + result.stderr).splitlines()
            # dicom3tools 2022 predates Synthetic Data (0008,001C), added to the standard later.
            if line.startswith("Error") and "0x0008,0x001c" not in line
        ]
        assert errors == [], (path.name, errors)


def test_copy_patient_on_request(tmp_path: Path, ct_source: Dataset) -> None:
    path = write_synthetic_dicom(np.zeros((4, 4)), tmp_path / "g.dcm", source=ct_source, copy_patient=True)
    ds = pydicom.dcmread(path)
    assert (ds.PatientName, ds.PatientID, ds.PatientSex) == (ct_source.PatientName, ct_source.PatientID, "F")
    assert ds.StudyInstanceUID != ct_source.StudyInstanceUID and ds.AccessionNumber != "ACC-77"
    assert ds.SyntheticData == "YES"


def test_derived_restoration_keeps_study_and_geometry(tmp_path: Path, ct_source: Dataset) -> None:
    hu = _hu(ct_source) + 0.4
    path = write_synthetic_dicom(hu, tmp_path / "restored.dcm", derived_from=ct_source, window=(40, 400), model="mc")
    ds = pydicom.dcmread(path)
    _assert_marked_synthetic(ds)
    assert ds.SOPClassUID == CTImageStorage and ds.Modality == "CT"
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "AXIAL"]
    assert ds.StudyInstanceUID == ct_source.StudyInstanceUID
    assert ds.SeriesInstanceUID != ct_source.SeriesInstanceUID and ds.SOPInstanceUID != ct_source.SOPInstanceUID
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness"):
        assert list(np.ravel(ds[keyword].value)) == list(np.ravel(ct_source[keyword].value)), keyword
    assert ds.FrameOfReferenceUID == ct_source.FrameOfReferenceUID
    reference = ds.SourceImageSequence[0]
    assert reference.ReferencedSOPInstanceUID == ct_source.SOPInstanceUID
    assert reference.ReferencedSOPClassUID == ct_source.SOPClassUID
    assert reference.SpatialLocationsPreserved == "YES"
    assert ct_source.SOPInstanceUID in ds.DerivationDescription
    assert ds.PatientName == "SYNTHETIC^IMAGE" and "DeviceSerialNumber" not in ds
    assert ds.KVP == ct_source.KVP
    assert ("109101", "DCM", "Acquisition Equipment") in _purpose_codes(ds)
    np.testing.assert_array_less(np.abs(_hu(ds) - hu), 1.0)
    assert ct_source.SOPInstanceUID in {uids[2] for uids in hd.imread(path).get_source_image_uids()}


def test_derived_super_resolution_keeps_field_of_view(tmp_path: Path, ct_source: Dataset) -> None:
    path = write_synthetic_dicom(np.zeros((32, 32)), tmp_path / "sr.dcm", derived_from=ct_source)
    ds = pydicom.dcmread(path)
    assert [float(v) for v in ds.PixelSpacing] == [0.375, 0.375]
    assert [float(v) for v in ds.ImagePositionPatient] == pytest.approx([-100.1875, -120.1875, -50.0])
    assert ds.SourceImageSequence[0].SpatialLocationsPreserved == "NO"


def test_refuses_to_overwrite_the_source(tmp_path: Path, ct_source: Dataset) -> None:
    before = Path(ct_source.filename).read_bytes()
    with pytest.raises(ValueError, match="input file"):
        write_synthetic_dicom(np.zeros((16, 16)), ct_source.filename, derived_from=ct_source)
    with pytest.raises(ValueError, match="input file"):
        write_synthetic_dicom(np.zeros((16, 16)), ct_source.filename, source=ct_source.filename)
    assert Path(ct_source.filename).read_bytes() == before


def test_rgb_and_float_images(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (3, 5, 6)).astype(float)
    ds = pydicom.dcmread(write_synthetic_dicom(rgb, tmp_path / "rgb.dcm"))
    assert ds.PhotometricInterpretation == "RGB" and ds.SyntheticData == "YES"
    np.testing.assert_array_equal(ds.pixel_array, np.moveaxis(rgb, 0, -1))
    with pytest.raises(ValueError, match="RGB"):
        write_synthetic_dicom(rgb, tmp_path / "rgb_window.dcm", window=(40, 400))
    mr = np.random.default_rng(2).normal(300.0, 80.0, (6, 6))
    ds = pydicom.dcmread(write_synthetic_dicom(mr, tmp_path / "mr.dcm", modality="MR", description="my MR"))
    assert ds.SeriesDescription == "SYNTHETIC - my MR" and ds.RescaleType == "US"
    assert np.abs(_hu(ds) - mr).max() <= float(ds.RescaleSlope) / 2 + 1e-9


def test_generated_series_is_consistent(tmp_path: Path) -> None:
    volume = np.random.default_rng(3).uniform(-1024, 1500, (4, 8, 8))
    paths = write_dicom_series(
        volume, tmp_path / "series", modality="CT", window=(40, 400), pixel_spacing=(0.5, 0.5), slice_spacing=2.0
    )
    datasets = [pydicom.dcmread(p) for p in paths]
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientID", "RescaleIntercept"):
        assert len({ds[keyword].value for ds in datasets}) == 1, keyword
    assert len({ds.SOPInstanceUID for ds in datasets}) == 4
    assert [ds.InstanceNumber for ds in datasets] == [1, 2, 3, 4]
    assert [float(ds.ImagePositionPatient[2]) for ds in datasets] == [0.0, 2.0, 4.0, 6.0]
    for ds, plane in zip(datasets, volume):
        _assert_marked_synthetic(ds)
        np.testing.assert_array_less(np.abs(_hu(ds) - plane), 1.0)


def test_derived_series_keeps_source_study(tmp_path: Path, ct_sources: list[Dataset]) -> None:
    volume = np.stack([_hu(ds) for ds in ct_sources])
    paths = write_dicom_series(volume, tmp_path / "restored", derived_from=ct_sources, window=(40, 400))
    datasets = [pydicom.dcmread(p) for p in paths]
    assert {ds.StudyInstanceUID for ds in datasets} == {ct_sources[0].StudyInstanceUID}
    (series_uid,) = {ds.SeriesInstanceUID for ds in datasets}
    assert series_uid != ct_sources[0].SeriesInstanceUID
    for ds, source in zip(datasets, ct_sources):
        assert ds.ImagePositionPatient == source.ImagePositionPatient
        assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
        np.testing.assert_array_less(np.abs(_hu(ds) - _hu(source)), 1.0)
