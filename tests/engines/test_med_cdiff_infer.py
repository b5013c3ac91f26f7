"""Med-cDiff inference with a fake restorer: DICOM (HU, study, derivation), NIfTI and PNG folders, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from monai_synth.engines.med_cdiff.infer import check_output_dir, restore_to_folder
from monai_synth.transforms.degradation import make_degradation

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SIZE = 16


class FakeRestorer:
    """Returns the degraded image itself (so outputs are predictable), with the Restorer attributes."""

    def __init__(self, task: str = "sr", params: dict | None = None, intensity: dict | None = None) -> None:
        self.model, self.task = "diffusion", task
        self.degradation = make_degradation(task, params or {"factors": [2.0]})
        self.image_size, self.channels = SIZE, 1
        self.intensity = intensity or {"mode": "auto", "window": None}
        self.checkpoint_sha256 = "ab" * 32
        self.description = f"Med-cDiff diffusion, {task}, dpmpp_2m 3 steps"
        self.calls = 0

    def __call__(self, condition: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        self.calls += 1
        return self.degradation.image_part(condition)


def _ct_series(folder: Path, slices: int = 3, size: int = 32) -> tuple[str, list[np.ndarray]]:
    """A CT series stored as uint16 with RescaleIntercept -1024: HU from -1000 to 1000, a ramp per slice."""
    folder.mkdir(parents=True)
    study, series = generate_uid(), generate_uid()
    hus = []
    for k in range(slices):
        hu = np.tile(np.linspace(-1000, 1000, size), (size, 1)).astype(np.int16) + 10 * k
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.Modality, ds.PatientName, ds.PatientID = "CT", "TEST^CT", "T1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SeriesNumber = study, series, 3
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "1", "A1"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.FrameOfReferenceUID = generate_uid()
        ds.ImagePositionPatient = [-100.0, -100.0, 5.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.8, 0.8], 5.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, -1024, "HU"
        ds.PixelData = (hu.astype(np.int32) + 1024).astype(np.uint16).tobytes()
        pydicom.dcmwrite(folder / f"slice{2 - k if k < 3 else k}.dcm", ds, enforce_file_format=True)
        hus.append(hu)
    return study, hus


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _series_folders(out: Path) -> list[Path]:
    """The derived series folders of an output folder (each named by its SeriesInstanceUID)."""
    return sorted(d for d in out.iterdir() if d.is_dir() and d.name != "degraded")


def _manifest(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_dicom_series_restored_in_its_study_as_derived_hu(tmp_path: Path) -> None:
    source = tmp_path / "ct"
    study, hus = _ct_series(source)
    before = _digest(source)
    restorer = FakeRestorer()
    paths = restore_to_folder(str(source), str(tmp_path / "out"), simulate=True, restorer=restorer, progress=False, batch_size=2)
    assert restorer.calls > 0 and _digest(source) == before
    (folder,) = _series_folders(tmp_path / "out")
    restored = sorted(folder.glob("*.dcm"))
    degraded = sorted(_series_folders(tmp_path / "out" / "degraded")[0].glob("*.dcm"))
    assert len(restored) == len(degraded) == 3 and len(paths) == 6
    old_series = pydicom.dcmread(next(source.glob("*.dcm"))).SeriesInstanceUID
    datasets = [pydicom.dcmread(p) for p in restored]
    assert {ds.SeriesInstanceUID for ds in datasets} == {folder.name}  # the folder is named by the series
    for k, ds in enumerate(datasets):
        assert ds.StudyInstanceUID == study and ds.SeriesInstanceUID != old_series
        assert ds.Modality == "CT" and "DERIVED" in ds.ImageType and ds.SyntheticData == "YES"
        assert "Med-cDiff diffusion, sr" in ds.DerivationDescription and "ab" * 32 in ds.DerivationDescription
        assert "super-resolved" in ds.SeriesDescription and ds.SeriesDescription.startswith("SYNTHETIC")
        assert (ds.Rows, ds.Columns) == (32, 32)  # the input's grid, not the model's 16 px
        assert [float(v) for v in ds.PixelSpacing] == pytest.approx([0.8, 0.8])
        assert "center 40, width 400" in ds.DerivationDescription  # the window the model used
        assert float(ds.ImagePositionPatient[2]) == pytest.approx(5.0 * k)  # slice order kept
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        # outside the abdomen window (40, 400) the source's HU are carried through: the whole ramp survives
        assert hu[:, 0].mean() == pytest.approx(-1000 + 10 * k, abs=1) and hu[:, -1].mean() == pytest.approx(1000 + 10 * k, abs=1)
        inside = (hus[k] > -160) & (hus[k] < 240)
        assert np.abs(hu[inside] - hus[k][inside]).max() < 200  # restored (here: degraded x2) inside the window
    assert "Simulated degradation (x2)" in pydicom.dcmread(degraded[0]).DerivationDescription
    lines = _manifest(tmp_path / "out")
    assert len(lines) == 6 and all(r["synthetic"] for r in lines)
    assert {r["derived_from"] for r in lines} == {str(p.resolve()) for p in source.glob("*.dcm")}
    assert {r["model"] for r in lines} == {"med_cdiff_diffusion", "degradation (simulated)"}
    assert sorted(r["seed"] for r in lines if r["model"] == "med_cdiff_diffusion") == [0, 1, 2]


def test_refuses_to_write_into_the_input_folder(tmp_path: Path) -> None:
    source = tmp_path / "ct"
    _ct_series(source, slices=1)
    for bad in (source, source / "sub", source / "." ):
        with pytest.raises(ValueError, match="input folder"):
            restore_to_folder(str(source), str(bad), restorer=FakeRestorer(), progress=False)
    with pytest.raises(ValueError, match="input folder"):
        check_output_dir(next(source.glob("*.dcm")), source)
    check_output_dir(source, tmp_path / "elsewhere")


def test_nifti_volume_keeps_orientation_and_field_of_view(tmp_path: Path) -> None:
    volume = np.zeros((20, 24, 4), np.float32)
    volume[:5, :6, :] = 1000.0  # a bright block near voxel (0, 0)
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    path = tmp_path / "in" / "vol.nii.gz"
    path.parent.mkdir()
    nib.save(nib.Nifti1Image(volume, affine), path)
    restorer = FakeRestorer("denoise", {"noise_levels": [[0.1, 0.0]]}, {"mode": "window", "window": [500.0, 1000.0]})
    restore_to_folder(str(path), str(tmp_path / "out"), restorer=restorer, progress=False)
    out = nib.load(tmp_path / "out" / "vol.nii.gz")
    data = np.asarray(out.dataobj)
    assert data.shape == (20, 24, 4)  # the input's grid
    assert data[:3, :3].mean() > 900 and data[-3:, -3:].mean() < 100 and data.min() >= 0 and data.max() <= 1000
    zooms = out.header.get_zooms()
    assert zooms == pytest.approx((2.0, 2.0, 3.0))
    # same field of view: the outer voxel edges stay where they were
    assert (out.affine @ [-0.5, -0.5, 0, 1])[:2] == pytest.approx((affine @ [-0.5, -0.5, 0, 1])[:2])
    lines = _manifest(tmp_path / "out")
    assert len(lines) == 1 and lines[0]["condition"]["slices"] == 4 and lines[0]["derived_from"] == str(path.resolve())


def test_png_folder_and_inpaint_mask(tmp_path: Path) -> None:
    root = tmp_path / "pngs"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    ramp = np.tile(np.linspace(0, 255, 20), (20, 1)).astype(np.uint8)
    Image.fromarray(ramp).save(root / "a" / "one.png")
    Image.fromarray(255 - ramp).save(root / "b" / "two.png")
    mask = tmp_path / "mask.png"
    m = np.zeros((20, 20), np.uint8)
    m[5:10, 5:10] = 255
    Image.fromarray(m).save(mask)
    restorer = FakeRestorer("inpaint", {})
    restore_to_folder(str(root), str(tmp_path / "out"), restorer=restorer, mask=str(mask), progress=False)
    one = np.asarray(Image.open(tmp_path / "out" / "a" / "one.png"))
    assert one.shape == (20, 20) and one[0, 0] < 30 and one[0, -1] > 225
    assert abs(int(one[6, 6]) - 128) <= 2  # missing pixels are 0 in [-1, 1]: mid grey
    assert (tmp_path / "out" / "b" / "two.png").is_file()
    assert len(_manifest(tmp_path / "out")) == 2
    with pytest.raises(ValueError, match="mask"):
        restore_to_folder(str(root), str(tmp_path / "out2"), restorer=restorer, progress=False)
    with pytest.raises(ValueError, match="format"):
        restore_to_folder(str(root), str(tmp_path / "out3"), restorer=FakeRestorer(), format="jpeg", progress=False)


def test_real_ct_series_hu_and_geometry(tmp_path: Path) -> None:
    source = DATA / "dicom" / "ct_abdomen_18"
    if not source.is_dir():
        pytest.skip(f"{source} not present")
    restorer = FakeRestorer("denoise", {"noise_levels": [[0.05, 0.0]]}, {"mode": "window", "window": "liver"})
    restore_to_folder(str(source), str(tmp_path / "out"), restorer=restorer, progress=False, batch_size=512)
    (folder,) = _series_folders(tmp_path / "out")
    written = sorted(folder.glob("*.dcm"))
    assert len(written) == 18
    first_source = pydicom.dcmread(next(source.glob("*.dcm")), stop_before_pixels=True)
    zs, highest = [], []
    for path in written:
        ds = pydicom.dcmread(path)
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert hu.min() < -900 and hu.std() > 20  # air carried through the window
        highest.append(hu.max())
        assert ds.StudyInstanceUID == first_source.StudyInstanceUID and "DERIVED" in ds.ImageType
        assert (ds.Rows, ds.Columns) == (512, 512)
        assert float(ds.PixelSpacing[0]) == pytest.approx(float(first_source.PixelSpacing[0]), rel=1e-4)
        zs.append(float(ds.ImagePositionPatient[2]))
    assert np.all(np.diff(zs) != 0) and len(set(np.sign(np.diff(zs)))) == 1
    assert max(highest) > 1000  # bone


def test_flags_from_the_command_line() -> None:
    from monai_synth.engines.med_cdiff.infer import as_flag

    assert [as_flag(v) for v in ("false", "False", "0", "no", "", None, False)] == [False] * 7
    assert [as_flag(v) for v in ("true", "YES", "1", True, 1)] == [True] * 5
    with pytest.raises(ValueError):
        as_flag("maybe")
