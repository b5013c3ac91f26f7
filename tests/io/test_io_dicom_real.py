"""End to end on the real de-identified CT series (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from monai_synth.io import write_dicom_series, write_synthetic_dicom


def _hu(ds: Dataset) -> np.ndarray:
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float64)


def test_generated_from_real_ct(tmp_path: Path, real_ct: list[Dataset]) -> None:
    source = real_ct[0]
    hu = _hu(source)[::8, ::8] + np.random.default_rng(0).uniform(-0.5, 0.5, (64, 64))
    path = write_synthetic_dicom(hu, tmp_path / "gen.dcm", modality="CT", window=(40, 400), source=source)
    ds = pydicom.dcmread(path, force=False)
    assert ds.SyntheticData == "YES" and ds.ImageType[0] == "DERIVED"
    assert "109100" in {i.PurposeOfReferenceCodeSequence[0].CodeValue for i in ds.ContributingEquipmentSequence}
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert ds[keyword].value != source[keyword].value
    assert ds.PatientName != source.PatientName and ds.PatientID != source.PatientID
    assert str(source.PatientID).encode() not in path.read_bytes()
    np.testing.assert_array_less(np.abs(_hu(ds) - hu), 1.0)


def test_derived_series_from_real_ct(tmp_path: Path, real_ct: list[Dataset]) -> None:
    sources = real_ct[:3]
    volume = np.stack([_hu(s) for s in sources]) + 0.3
    paths = write_dicom_series(volume, tmp_path / "restored", derived_from=sources, window=(40, 400), model="med_cdiff")
    datasets = [pydicom.dcmread(p) for p in paths]
    assert {ds.StudyInstanceUID for ds in datasets} == {sources[0].StudyInstanceUID}
    assert len({ds.SeriesInstanceUID for ds in datasets} | {sources[0].SeriesInstanceUID}) == 2
    assert [ds.InstanceNumber for ds in datasets] == [1, 2, 3]
    for ds, source in zip(datasets, sources):
        assert ds.SOPClassUID == source.SOPClassUID and ds.SyntheticData == "YES"
        for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "FrameOfReferenceUID"):
            assert ds[keyword].value == source[keyword].value, keyword
        assert ds.SliceThickness == source.SliceThickness
        assert ds.PatientID.startswith("SYNTH-") and ds.SeriesDescription.startswith("SYNTHETIC")
        assert "Private Creator" not in str(ds) and not any(e.tag.is_private for e in ds)
        np.testing.assert_array_less(np.abs(_hu(ds) - _hu(source) - 0.3), 1.0)
