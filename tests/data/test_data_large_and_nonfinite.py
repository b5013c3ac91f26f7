"""Issue cases 10 (large images) and 2 (NaN/Inf pixels) in the data layer."""

from __future__ import annotations

import numpy as np
import pytest
from data_factory import fingerprint, write_nifti, write_png
from PIL import Image

from monai_synth.cli import main
from monai_synth.data import BadInputReport, DataError, ReadImage2D, build_datalist, read_raster


def test_case10_decompression_bomb_is_one_clear_line_naming_the_file(tmp_path, capsys):
    big = tmp_path / "big" / "huge.png"
    big.parent.mkdir()
    Image.new("1", (14000, 14000)).save(big)  # 196 million pixels, a 24 kB file
    before = fingerprint(tmp_path / "big")
    assert main(["inspect", str(big)]) == 1
    out = capsys.readouterr().out
    assert f"{big}: image of 14000 x 14000 pixels (196 million) exceeds the limit" in out
    assert "MONAI_SYNTH_MAX_PIXELS" in out and "Traceback" not in out
    with pytest.raises(DataError, match=r"huge\.png: image of 14000 x 14000 pixels"):
        build_datalist(tmp_path / "big")
    with pytest.raises(DataError, match=r"huge\.png: image of 14000 x 14000 pixels"):
        ReadImage2D()(str(big))
    assert fingerprint(tmp_path / "big") == before


def test_case10_limit_is_configurable(tmp_path, monkeypatch):
    path = write_png(tmp_path / "a.png", np.zeros((40, 50), np.uint8))
    monkeypatch.setenv("MONAI_SYNTH_MAX_PIXELS", "1000")
    with pytest.raises(DataError, match=r"a\.png: image of 50 x 40 pixels .* limit of 0 million"):
        read_raster(path)
    monkeypatch.setenv("MONAI_SYNTH_MAX_PIXELS", "0")
    assert read_raster(path)[0].shape == (1, 40, 50)


def test_case10_large_images_are_reduced_on_read(tmp_path):
    ramp = np.tile(np.arange(400, dtype=np.uint16) * 100, (400, 1))
    png = write_png(tmp_path / "a.png", ramp)
    full, value_range = read_raster(png)
    small, _ = read_raster(png, size_hint=32)
    assert full.shape == (1, 400, 400) and small.shape == (1, 66, 66) and value_range == (0.0, 65535.0)
    assert small.dtype == np.uint16 and abs(float(small.mean()) - float(full[:, :396, :396].mean())) < 1
    jpeg = tmp_path / "b.jpg"
    Image.fromarray((ramp // 256).astype(np.uint8)).save(jpeg, quality=95)
    assert ReadImage2D(size_hint=32)(str(jpeg)).shape == (1, 100, 100)  # decoded at 1/4 DCT scale
    assert ReadImage2D(size_hint=256)(str(jpeg)).shape == (1, 400, 400)  # not far smaller: full size


def _nan_volume(tmp_path):
    volume = np.ones((4, 4, 3), np.float32)
    volume[0, 0, 1], volume[1, 1, 1], volume[2, 2, 2] = np.nan, np.inf, -np.inf
    return write_nifti(tmp_path / "nii" / "v.nii.gz", volume)


def test_case2_nan_volume_is_refused_with_file_and_count(tmp_path, capsys):
    path = _nan_volume(tmp_path)
    before = fingerprint(tmp_path / "nii")
    with pytest.raises(DataError, match=r"v\.nii\.gz: 3 of 48 values are NaN or infinite"):
        build_datalist(tmp_path / "nii")
    report = BadInputReport()
    with pytest.raises(DataError, match="no usable images"):
        build_datalist(tmp_path / "nii", skip_bad=True, report=report)
    assert report[0].path == str(path)
    assert main(["datalist", str(tmp_path / "nii"), "--out", str(tmp_path / "l.json")]) == 1
    assert "3 of 48 values are NaN or infinite" in capsys.readouterr().err
    assert fingerprint(tmp_path / "nii") == before


def test_case2_replace_only_on_request_and_recorded(tmp_path):
    path = _nan_volume(tmp_path)
    report = BadInputReport()
    entries = build_datalist(tmp_path / "nii", nonfinite="replace", report=report, report_path=tmp_path / "r.csv")
    assert len(report) == 1 and "3 NaN/Inf values replaced" in report[0].reason
    assert "nonfinite='replace'" in (tmp_path / "r.csv").read_text()
    assert {e["nonfinite"] for e in entries} == {"replace"}
    images = [ReadImage2D()(e) for e in entries]
    assert all(bool(np.isfinite(i.numpy()).all()) for i in images)
    assert sum(i.meta["nonfinite_replaced"] for i in images) == 3
    with pytest.raises(DataError, match=r"v\.nii\.gz: 2 of 16 values are NaN"):
        ReadImage2D()({"image": str(path), "frame": 1, "axis": 2})


def test_case2_float_tiff_with_nan_is_refused_when_read(tmp_path):
    arr = np.zeros((4, 4), np.float32)
    arr[1, 2] = np.nan
    Image.fromarray(arr).save(tmp_path / "f.tif")
    with pytest.raises(DataError, match=r"f\.tif: 1 of 16 values are NaN"):
        ReadImage2D()(str(tmp_path / "f.tif"))
