"""MedMNIST .npz archives."""

from __future__ import annotations

import numpy as np
import pytest
from data_factory import shared, truncate

from monai_synth.data import BadInputReport, DataError, build_datalist, class_names, detect_source_kind
from monai_synth.data.medmnist import load_npz_split, read_npz_image


@pytest.fixture
def archive(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, train_images=rng.integers(0, 255, (5, 6, 6), np.uint8),
             train_labels=np.array([[0], [1], [2], [1], [0]]),
             val_images=rng.integers(0, 255, (2, 6, 6), np.uint8), val_labels=np.array([[1], [0]]),
             test_images=rng.integers(0, 255, (3, 6, 6, 3), np.uint8), test_labels=np.array([2, 2, 0]))
    return path


def test_splits_labels_and_images(archive):
    assert detect_source_kind(archive) == "npz"
    train = build_datalist(archive)
    assert train[1] == {"image": str(archive), "index": 1, "split": "train", "label": 1}
    assert [e["label"] for e in build_datalist(archive, split="validation")] == [1, 0]
    assert len(build_datalist(archive, split="test")) == 3
    images, _ = load_npz_split(archive, "train")
    np.testing.assert_array_equal(read_npz_image(archive, "train", 3)[0], images[3])
    assert read_npz_image(archive, "test", 0).shape == (3, 6, 6)
    assert class_names(archive) == ["0", "1", "2"]
    with pytest.raises(DataError, match="index 9 out of range"):
        read_npz_image(archive, "val", 9)


def test_bad_archives(tmp_path, archive):
    with pytest.raises(DataError, match="unknown split 'dev'"):
        build_datalist(archive, split="dev")
    multi = tmp_path / "multi.npz"
    np.savez(multi, train_images=np.zeros((2, 4, 4), np.uint8), train_labels=np.zeros((2, 14), np.uint8))
    with pytest.raises(DataError, match=r"multi.npz: 'train_labels' has 14 columns \(multi-label\)"):
        build_datalist(multi)
    frac = tmp_path / "frac.npz"
    np.savez(frac, train_images=np.zeros((2, 4, 4), np.uint8), train_labels=np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="are not integers"):
        build_datalist(frac)
    missing = tmp_path / "nosplit.npz"
    np.savez(missing, val_images=np.zeros((2, 4, 4), np.uint8), val_labels=np.zeros(2, np.uint8))
    with pytest.raises(DataError, match=r"no 'train_images' array \(found: val_images\)"):
        build_datalist(missing)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(archive.read_bytes())
    truncate(broken, 0.5)
    with pytest.raises(DataError, match="broken.npz: not a readable .npz archive"):
        build_datalist(broken)
    report = BadInputReport()
    with pytest.raises(DataError, match="no usable images"):
        build_datalist(broken, skip_bad=True, report=report)
    assert report[0].path == str(broken)


def test_real_pneumoniamnist():
    path = shared("pneumoniamnist", "pneumoniamnist_28.npz")
    counts = {s: len(build_datalist(path, split=s)) for s in ("train", "val", "test")}
    assert counts == {"train": 4707, "val": 524, "test": 624}
    test = build_datalist(path, split="test")
    assert sum(e["label"] for e in test) == 390
    assert read_npz_image(path, "test", 0).shape == (1, 28, 28)
