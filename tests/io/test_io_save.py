"""save_generated: batches in [-1, 1] to PNG / NIfTI / DICOM, each followed by its manifest line."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

import monai_synth.io.save as save_module
from monai_synth.io import ManifestWriter, SyntheticStudy, read_manifest, save_generated

RECORD = {"model": "medfusion", "checkpoint_sha256": "0" * 64, "sampler": "ddim", "steps": 10, "guidance_scale": 2.0}


def _batch(n: int = 3, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2.2 - 1.1


def _records(labels: list[int]) -> list[dict]:
    return [{**RECORD, "seed": i, "condition": {"class_label": c}} for i, c in enumerate(labels)]


def test_png_batch_and_manifest(tmp_path: Path) -> None:
    images = _batch()
    paths = save_generated(images, tmp_path, ["a", "b/c", "d.png"], records=_records([0, 1, 1]))
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["a.png", "b/c.png", "d.png"]
    records = read_manifest(tmp_path)
    assert [r["file"] for r in records] == ["a.png", "b/c.png", "d.png"]
    assert all(r["synthetic"] and r["format"] == "png" and r["window"] is None for r in records)
    assert [r["condition"]["class_label"] for r in records] == [0, 1, 1]
    stored = np.array(Image.open(paths[0]))
    expected = np.rint((images[0, 0].clamp(-1, 1).double().numpy() + 1) * 127.5)
    np.testing.assert_array_equal(stored, expected)


def test_nifti_batch_in_hounsfield_units(tmp_path: Path) -> None:
    images = _batch(2)
    paths = save_generated(images, tmp_path, ["x", "y"], fmt="nifti", window=(40, 400), pixel_spacing=(0.5, 0.5))
    data = np.asarray(nib.load(paths[1]).dataobj)
    np.testing.assert_allclose(data, 40 + images[1, 0].clamp(-1, 1).numpy() * 200, atol=1e-3)
    assert nib.load(paths[1]).affine[0, 0] == 0.5
    assert [r["window"] for r in read_manifest(tmp_path)] == [[40.0, 400.0]] * 2
    with pytest.raises(ValueError, match="single-channel"):
        save_generated(np.zeros((1, 3, 4, 4)), tmp_path, ["rgb"], fmt="nifti")


def test_dicom_batches_one_series_per_class(tmp_path: Path) -> None:
    images = _batch(4)
    study = SyntheticStudy()
    with ManifestWriter(tmp_path) as manifest:
        names = ["g0", "g1", "g2", "g3"]
        paths = save_generated(
            images, tmp_path, names, "dicom", manifest, _records([0, 1, 0, 1]), (-600, 1500), 8, "CT", study=study
        )
        paths += save_generated(
            _batch(1, seed=1),
            tmp_path,
            ["g4"],
            "dicom",
            manifest,
            _records([1]),
            (-600, 1500),
            modality="CT",
            study=study,
        )
    datasets = [pydicom.dcmread(p) for p in paths]
    assert {ds.StudyInstanceUID for ds in datasets} == {study.study_uid}
    assert datasets[0].SeriesInstanceUID == datasets[2].SeriesInstanceUID != datasets[1].SeriesInstanceUID
    assert datasets[4].SeriesInstanceUID == datasets[1].SeriesInstanceUID
    descriptions = [ds.SeriesDescription for ds in datasets[:2]]
    assert descriptions == ["SYNTHETIC - medfusion class 0", "SYNTHETIC - medfusion class 1"]
    assert [ds.InstanceNumber for ds in datasets] == [1, 1, 2, 2, 3]
    for ds, image in zip(datasets, images):
        assert ds.SyntheticData == "YES" and ds.Modality == "CT"
        expected = -600 + image[0].clamp(-1, 1).double().numpy() * 750
        assert np.abs(apply_modality_lut(ds.pixel_array, ds) - expected).max() <= 0.5 + 1e-6
    assert len(read_manifest(tmp_path)) == 5


def test_dicom_derived_batch(tmp_path: Path, ct_sources: list[Dataset]) -> None:
    out = tmp_path / "out"
    paths = save_generated(
        _batch(3, 16), out, ["r0", "r1", "r2"], fmt="dicom", window=(40, 400), derived_from=ct_sources
    )
    datasets = [pydicom.dcmread(p) for p in paths]
    assert {ds.StudyInstanceUID for ds in datasets} == {ct_sources[0].StudyInstanceUID}
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert [r["condition"]["source"] for r in read_manifest(out)] == [s.filename for s in ct_sources]


def test_interrupted_batch_leaves_files_and_manifest_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = save_module.write_png
    calls = []

    def flaky_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(save_module, "write_png", flaky_write)
    with pytest.raises(RuntimeError, match="disk full"):
        save_generated(_batch(3), tmp_path, ["a", "b", "c"], records=_records([0, 0, 0]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "manifest.jsonl"]
    assert [r["file"] for r in read_manifest(tmp_path)] == ["a.png"]


def test_refuses_inputs_and_bad_arguments(tmp_path: Path) -> None:
    source = tmp_path / "src.png"
    source.write_bytes(b"original")
    with pytest.raises(ValueError, match="input file"):
        save_generated(_batch(1), tmp_path, ["src"], records=[{"condition": {"source": str(source)}}])
    assert source.read_bytes() == b"original"
    with pytest.raises(ValueError, match="relative path"):
        save_generated(_batch(1), tmp_path, ["../escape"])
    with pytest.raises(ValueError, match="window"):
        save_generated(_batch(1), tmp_path, ["ct"], fmt="dicom", modality="CT")
    with pytest.raises(ValueError, match="fmt"):
        save_generated(_batch(1), tmp_path, ["x"], fmt="jpeg")
    with pytest.raises(ValueError, match="names"):
        save_generated(_batch(2), tmp_path, ["x"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.png"]
