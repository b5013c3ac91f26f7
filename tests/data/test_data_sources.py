"""build_datalist dispatch, class_names and the phantom source."""

from __future__ import annotations

import numpy as np
import pytest
from data_factory import write_nifti, write_png
from dicom_factory import write_ct_series

from monai_synth.data import DataError, build_datalist, class_names, detect_source_kind, phantom_datalist


def test_detect_source_kinds(tmp_path, class_folder):
    assert detect_source_kind(None) == detect_source_kind("") == "phantom"
    assert detect_source_kind(class_folder) == "folder"
    assert detect_source_kind(class_folder / "b_tumor" / "x1.png") == "raster"
    (tmp_path / "d.csv").write_text("image\n")
    (tmp_path / "d.json").write_text("[]")
    assert detect_source_kind(tmp_path / "d.csv") == detect_source_kind(tmp_path / "d.json") == "datalist"
    write_ct_series(tmp_path / "dcm", 1, name=lambda k: "noext")
    assert detect_source_kind(tmp_path / "dcm") == "dicom"
    write_nifti(tmp_path / "nii" / "v.nii.gz", np.ones((2, 2, 2), np.float32))
    assert detect_source_kind(tmp_path / "nii") == "nifti"


def test_mixed_nifti_and_rasters_is_refused(tmp_path):
    write_nifti(tmp_path / "v.nii", np.ones((2, 2, 2), np.float32))
    write_png(tmp_path / "p.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match="mixes NIfTI"):
        build_datalist(tmp_path)


def test_single_raster_file(class_folder):
    path = class_folder / "b_tumor" / "x1.png"
    assert build_datalist(path) == [{"image": str(path)}]


def test_phantom_source_and_disjoint_splits():
    train = build_datalist(None, phantom_count=4, phantom_size=32, seed=3)
    again = phantom_datalist(4, 32, 3)
    assert len(train) == 4 and [e["label"] for e in train] == [0, 1, 0, 1]
    assert all(np.array_equal(a["image"], b["image"]) for a, b in zip(train, again))
    val = build_datalist("", split="val", phantom_count=4, phantom_size=32, seed=3)
    assert not any(np.array_equal(a["image"], b["image"]) for a, b in zip(train, val))
    assert class_names(None) == ["normal", "cardiomegaly"]


def test_class_names_of_unlabeled_sources(tmp_path):
    write_ct_series(tmp_path, 1)
    assert class_names(tmp_path) == []


def test_report_path_written_only_when_skipping(tmp_path, class_folder):
    (class_folder / "b_tumor" / "bad.png").write_bytes(b"junk")
    out = tmp_path / "reports" / "bad.csv"
    assert len(build_datalist(class_folder, skip_bad=True, report_path=out)) == 5
    assert "bad.png" in out.read_text()
