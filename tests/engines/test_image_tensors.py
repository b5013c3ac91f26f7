"""``load_image_tensors``: bad inputs skipped and reported as StyleGAN2's ``skipped_inputs.csv``; size-aware reading."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_synth.data.errors import DataError
from monai_synth.engines.image_tensors import load_image_tensors


def _dataset(root: Path) -> Path:
    """Classes a/ and b/ with two good PNGs each, a float TIFF holding a NaN (a/) and a truncated PNG (b/)."""
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(root / cls / f"ok{i}.png")
    values = rng.random((32, 32)).astype(np.float32)
    values[3, 3] = np.nan
    Image.fromarray(values, mode="F").save(root / "a" / "nan.tif")
    (root / "b" / "broken.png").write_bytes((root / "b" / "ok0.png").read_bytes()[:100])
    return root


def test_bad_inputs_fail_by_default_naming_the_file(tmp_path):
    data = _dataset(tmp_path / "data")
    with pytest.raises(DataError, match="broken.png"):
        load_image_tensors(str(data), 16)
    (data / "b" / "broken.png").unlink()
    with pytest.raises(DataError, match="nan.tif.*NaN"):
        load_image_tensors(str(data), 16)


def test_skip_bad_leaves_out_and_reports_both_kinds(tmp_path):
    data = _dataset(tmp_path / "data")
    report = tmp_path / "run" / "skipped_inputs.csv"
    got = load_image_tensors(str(data), 16, skip_bad=True, report_path=report)
    assert got.images.shape == (4, 1, 16, 16) and got.labels.tolist() == [0, 0, 1, 1]
    assert sorted(Path(f).name for f in got.files) == ["ok0.png", "ok0.png", "ok1.png", "ok1.png"]
    with open(report, newline="") as f:
        rows = {Path(r["path"]).name: r["reason"] for r in csv.DictReader(f)}
    assert rows.keys() == {"broken.png", "nan.tif"} and "NaN" in rows["nan.tif"]
    kept = load_image_tensors(str(data), 16, skip_bad=True, nonfinite="replace")
    assert kept.images.shape[0] == 5 and torch.isfinite(kept.images).all()


def test_size_hint_reads_large_images_reduced(tmp_path, monkeypatch):
    import monai_synth.data.folder as folder

    factors: list[int] = []
    original = folder.reduction_factor
    monkeypatch.setattr(folder, "reduction_factor", lambda size, hint: factors.append(original(size, hint)) or factors[-1])
    (tmp_path / "data").mkdir()
    y, x = np.mgrid[0:512, 0:512]
    Image.fromarray(((np.sin(x / 40) * np.cos(y / 50) + 1) * 127.5).astype(np.uint8)).save(tmp_path / "data" / "big.png")
    full = load_image_tensors(str(tmp_path / "data"), 16)
    assert factors in ([], [1])  # read at full resolution
    reduced = load_image_tensors(str(tmp_path / "data"), 16, size_hint=16)
    assert factors[-1] == 16  # 512 px decoded at 32 px: twice the size it is resized to
    assert reduced.images.shape == full.images.shape == (1, 1, 16, 16)
    assert (reduced.images - full.images).abs().max() < 0.05  # a smooth image looks the same either way
