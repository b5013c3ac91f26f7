"""Folders of PNG/JPEG/TIFF images with one subfolder per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_factory import fingerprint, shared, truncate, write_png
from PIL import Image

from monai_synth.data import BadInputReport, DataError, build_datalist, class_names, detect_source_kind
from monai_synth.data.folder import raster_problem, read_raster


def test_labels_are_sorted_class_folder_indices(class_folder):
    entries = build_datalist(class_folder)
    found = {Path(e["image"]).name: e["label"] for e in entries}
    assert found == {"y1.png": 0, "y2.jpg": 0, "y3.tif": 0, "x1.png": 1, "x2.png": 1}
    assert class_names(class_folder) == ["a_normal", "b_tumor"]
    assert detect_source_kind(class_folder) == "folder"
    assert all(Path(e["image"]).is_absolute() for e in entries)


def test_read_raster_native_values_and_ranges(class_folder):
    arr, vr = read_raster(class_folder / "a_normal" / "y1.png")
    assert (arr.shape, arr.dtype, int(arr.max()), vr) == ((1, 6, 5), np.uint16, 40000, (0.0, 65535.0))
    arr, vr = read_raster(class_folder / "b_tumor" / "x1.png")
    assert (arr.dtype, int(arr[0, 0, 0]), vr) == (np.uint8, 7, (0.0, 255.0))
    arr, vr = read_raster(class_folder / "a_normal" / "y3.tif")
    assert (arr.dtype, int(arr[0, 0, 0]), vr) == (np.uint16, 1000, (0.0, 65535.0))
    arr, _ = read_raster(class_folder / "a_normal" / "y2.jpg")
    assert abs(int(arr[0, 2, 2]) - 128) <= 2


def test_rgb_and_alpha(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200
    arr, vr = read_raster(write_png(tmp_path / "c.png", rgb))
    assert arr.shape == (3, 4, 6) and arr[0].max() == 200 and arr[1].max() == 0 and vr == (0.0, 255.0)
    Image.fromarray(np.dstack([rgb, np.full((4, 6), 9, np.uint8)])).save(tmp_path / "a.png")
    assert read_raster(tmp_path / "a.png")[0].shape == (3, 4, 6)


def test_flat_folder_gives_unlabeled_entries_and_hidden_files_are_ignored(tmp_path):
    write_png(tmp_path / "one.png", np.zeros((3, 3), np.uint8))
    write_png(tmp_path / "two.PNG", np.zeros((3, 3), np.uint8))
    (tmp_path / "._one.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / "notes.txt").write_text("not an image")
    entries = build_datalist(tmp_path)
    assert [Path(e["image"]).name for e in entries] == ["one.png", "two.PNG"]
    assert all("label" not in e for e in entries) and class_names(tmp_path) == []


def test_split_level_above_classes_keeps_labels_consistent(tmp_path):
    for split, classes in (("train", ("cat", "dog")), ("test", ("dog",))):
        for name in classes:
            write_png(tmp_path / split / name / f"{split}_{name}.png", np.zeros((3, 3), np.uint8))
    assert class_names(tmp_path) == ["cat", "dog"]
    assert {Path(e["image"]).name: e["label"] for e in build_datalist(tmp_path, split="test")} == {"test_dog.png": 1}
    assert len(build_datalist(tmp_path, split="train")) == 2
    with pytest.raises(DataError, match="no 'val' split folder"):
        build_datalist(tmp_path, split="val")


@pytest.mark.parametrize("name, save", [
    ("t.png", lambda p: write_png(p, np.arange(4096, dtype=np.uint16).reshape(64, 64))),
    ("t.jpg", lambda p: Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(p)),
    ("t.tif", lambda p: Image.fromarray(np.arange(4096, dtype=np.uint16).reshape(64, 64)).save(p)),
])
def test_truncated_images_raise_or_are_skipped(class_folder, name, save):
    bad = class_folder / "b_tumor" / name
    save(bad)
    truncate(bad, 0.6)
    assert "truncated" in raster_problem(bad)
    with pytest.raises(DataError, match=rf"{name}: truncated"):
        build_datalist(class_folder)
    report = BadInputReport()
    assert len(build_datalist(class_folder, skip_bad=True, report=report)) == 5
    assert [Path(r.path).name for r in report] == [name]
    with pytest.raises(DataError, match=rf"{name}: cannot read image"):
        read_raster(bad)


def test_garbage_with_image_name_and_empty_folder(tmp_path):
    bad = tmp_path / "cls" / "fake.png"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a png")
    with pytest.raises(DataError, match="fake.png: not a readable image"):
        build_datalist(tmp_path)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="empty: no images found"):
        build_datalist(empty)
    with pytest.raises(DataError, match="no such file or folder"):
        build_datalist(tmp_path / "missing")


def test_inputs_are_not_modified(class_folder):
    before = fingerprint(class_folder)
    for entry in build_datalist(class_folder):
        read_raster(entry["image"])
    assert fingerprint(class_folder) == before


def test_real_mednist_folder():
    root = shared("mednist_64_500")
    entries = build_datalist(root)
    assert len(entries) == 3000
    assert class_names(root) == ["CTAbd", "CTChest", "CTHead", "CXR", "MRBrain", "MRBreast"]
    arr, vr = read_raster(entries[0]["image"])
    assert arr.shape == (1, 64, 64) and vr == (0.0, 255.0)
