"""infer.json and evaluate.json of the Med-cDiff bundle, each run once on tiny trained models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.bundle import run
from PIL import Image

from monai_synth.engines.checkpoint import sha256_of

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "med_cdiff"
DATA = REPO / ".." / "shared" / "data"
SIZE = 16
NETWORKS = {
    "diffusion": {"models#diffusion#unet_def#channels": [8, 16], "models#diffusion#unet_def#attention_levels": [False, False],
                  "models#diffusion#unet_def#norm_num_groups": 8, "models#diffusion#unet_def#num_head_channels": 8},
    "pix2pix": {"models#pix2pix#generator_def#features": 8, "models#pix2pix#generator_def#depth": 3,
                "models#pix2pix#discriminator_def#channels": 8, "models#pix2pix#discriminator_def#num_layers_d": 1},
}


def _train_tiny(out: Path, model: str) -> None:
    """One epoch of a tiny sr model (factor 2, 16 px phantoms, T = 20) through the bundle's train.json."""
    if not (BUNDLE / "train.json").is_file():
        pytest.skip("bundles/med_cdiff/train.json (developer A) is not there yet")
    run(config_file=str(BUNDLE / "train.json"), output_dir=str(out), model=model, image_size=SIZE, epochs=1,
        batch_size=4, phantom_count=8, factors=[2.0], precision="fp32", channels_last=False, report_images=1,
        checkpoint_every=1, device="cpu", **{**NETWORKS[model], "noise_schedule#num_steps": 20,
                                             "sample#steps": 2})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("med_cdiff")
    torch.manual_seed(0)
    for model in ("diffusion", "pix2pix"):
        _train_tiny(out, model)
    return out


def _infer(trained: Path, source: Path, out: Path, **extra) -> None:
    run(config_file=str(BUNDLE / "infer.json"), input=str(source), output_dir=str(out), checkpoint_dir=str(trained),
        steps=2, device="cpu", progress=False, **extra)


def test_evaluate_config_writes_tables(trained: Path, tmp_path: Path) -> None:
    run(config_file=str(BUNDLE / "evaluate.json"), checkpoint_dir=str(trained), output_dir=str(tmp_path), num_images=6,
        steps=2, fid=False, segmenter_images=8, segmenter_epochs=1, device="cpu", progress=False)
    tables = json.loads((tmp_path / "tables.json").read_text())
    assert tables["task"] == "sr" and tables["num_images"] == 6 and tables["image_size"] == SIZE
    assert tables["methods"] == ["degraded", "bilinear", "bicubic", "diffusion", "pix2pix"]
    assert list(tables["metrics"]) == ["x2"] and set(tables["metrics"]["x2"]) == set(tables["methods"])
    assert tables["models"]["diffusion"]["checkpoint_sha256"] == sha256_of(trained / "diffusion" / "final.pt")
    assert all(-1 <= row["ssim"] <= 1 and row["lpips"] is None for row in tables["metrics"]["x2"].values())
    assert set(tables["downstream"]["settings"]["x2"]) == set(tables["methods"])
    assert "| diffusion |" in (tmp_path / "tables.md").read_text()


def test_infer_config_png_folder_same_seed_same_images(trained: Path, tmp_path: Path) -> None:
    source = tmp_path / "in" / "x"
    source.mkdir(parents=True)
    for k in range(3):
        Image.fromarray((np.random.default_rng(k).random((24, 24)) * 255).astype(np.uint8)).save(source / f"img{k}.png")
    _infer(trained, source.parent, tmp_path / "a", simulate=True, batch_size=3, seed=4)
    _infer(trained, source.parent, tmp_path / "b", simulate=True, batch_size=1, seed=4)
    a = sorted((tmp_path / "a").rglob("*.png"))
    assert len(a) == 6 and len(list((tmp_path / "a" / "degraded").rglob("*.png"))) == 3
    for path in a:
        other = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert np.array_equal(np.asarray(Image.open(path)), np.asarray(Image.open(other)))
    lines = [json.loads(x) for x in (tmp_path / "a" / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and all(r["synthetic"] and r["derived_from"] for r in lines)
    with pytest.raises(RuntimeError) as info:  # MONAI's config parser wraps the ValueError
        _infer(trained, source.parent, source / "out")
    assert "input folder" in str(info.value.__cause__)


def test_infer_config_nifti_and_real_dicom(trained: Path, tmp_path: Path) -> None:
    volume = tmp_path / "vol" / "ct.nii.gz"
    volume.parent.mkdir()
    nib.save(nib.Nifti1Image(np.linspace(-200, 300, 20 * 20 * 3, dtype=np.float32).reshape(20, 20, 3), np.eye(4)), volume)
    _infer(trained, volume, tmp_path / "n")
    assert nib.load(tmp_path / "n" / "ct.nii.gz").shape == (20, 20, 3)  # the input's grid
    series = DATA / "dicom" / "ct_abdomen_18"
    if not series.is_dir():
        pytest.skip(f"{series} not present")
    two = tmp_path / "two_slices"  # 512 x 512 restored patch-wise: two slices keep the test short
    two.mkdir()
    for p in sorted(series.glob("*.dcm"))[8:10]:
        shutil.copy(p, two / p.name)
    _infer(trained, two, tmp_path / "d", simulate=True, batch_size=256)
    (folder,) = [d for d in (tmp_path / "d").iterdir() if d.is_dir() and d.name != "degraded"]
    written = sorted(folder.glob("*.dcm"))
    source = pydicom.dcmread(next(series.glob("*.dcm")), stop_before_pixels=True)
    assert len(written) == 2
    ds = pydicom.dcmread(written[0])
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.SeriesInstanceUID == folder.name != source.SeriesInstanceUID
    assert "DERIVED" in ds.ImageType and "Med-cDiff diffusion, sr" in ds.DerivationDescription
    assert sha256_of(trained / "diffusion" / "final.pt") in ds.DerivationDescription
    assert (ds.Rows, ds.Columns) == (512, 512)
    assert hu.min() < -900  # air outside the abdomen window the phantom model's "auto" intensity uses: kept


def test_evaluate_config_tracks_with_mlflow(trained: Path, tmp_path: Path) -> None:
    """``--tracking mlflow`` on evaluate.json: one run with the settings, every score and the tables as artifacts."""
    from mlflow_store import artifact_names, recorded_runs, tracking_overrides

    run(config_file=str(BUNDLE / "evaluate.json"), checkpoint_dir=str(trained), output_dir=str(tmp_path / "eval"),
        num_images=4, steps=2, fid=False, downstream=False, device="cpu", progress=False,
        **tracking_overrides(tmp_path))
    runs = recorded_runs(tmp_path)
    assert len(runs) == 1
    recorded = runs[0].data
    assert recorded.params["num_images"] == "4" and recorded.params["task"] == "None"
    tables = json.loads((tmp_path / "eval" / "tables.json").read_text())
    psnr = tables["metrics"]["x2"]["diffusion"]["psnr"]
    assert recorded.metrics["metrics/x2/diffusion/psnr"] == pytest.approx(psnr)
    assert {"tables.json", "tables.md"} <= artifact_names(tmp_path, runs[0])
