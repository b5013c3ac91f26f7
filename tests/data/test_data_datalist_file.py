"""CSV and JSON datalist files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_factory import shared, write_png

from monai_synth.data import BadInputReport, DataError, build_datalist, class_names
from monai_synth.data.datalist_file import parse_label, read_datalist_file


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for name in ("a.png", "b.png", "c.png", "m.png"):
        write_png(tmp_path / "img" / name, np.zeros((4, 4), np.uint8))
    return tmp_path


def test_csv_paths_relative_to_file_labels_masks_and_bom(images):
    path = images / "list.csv"
    path.write_text("\ufeffimage, label ,mask,notes\nimg/a.png,0,img/m.png,x\nimg/b.png, 1 ,,\n\n", encoding="utf-8")
    entries = read_datalist_file(path)
    assert entries == [
        {"image": str(images / "img" / "a.png"), "mask": str(images / "img" / "m.png"), "label": 0},
        {"image": str(images / "img" / "b.png"), "label": 1},
    ]


def test_csv_split_column_filters(images):
    path = images / "split.csv"
    path.write_text("image,label,split\nimg/a.png,0,train\nimg/b.png,1,test\nimg/c.png,1,validation\n")
    assert [Path(e["image"]).name for e in read_datalist_file(path, split="test")] == ["b.png"]
    assert [Path(e["image"]).name for e in read_datalist_file(path, split="val")] == ["c.png"]
    assert len(read_datalist_file(path, split=None)) == len(read_datalist_file(path, split="all")) == 3
    with pytest.raises(DataError, match="no entries with split 'nope'"):
        read_datalist_file(path, split="nope")


def test_json_list_and_monai_style_dict(images):
    flat = images / "list.json"
    flat.write_text(json.dumps([{"image": "img/a.png", "label": 2}, "img/b.png"]))
    assert read_datalist_file(flat) == [{"image": str(images / "img/a.png"), "label": 2},
                                        {"image": str(images / "img/b.png")}]
    monai = images / "dataset.json"
    monai.write_text(json.dumps({"name": "x", "numTraining": 2,
                                 "training": [{"image": "img/a.png", "label": 0}, {"image": "img/b.png", "label": 1}],
                                 "validation": [{"image": "img/c.png", "label": "1"}]}))
    assert [e["label"] for e in read_datalist_file(monai)] == [0, 1]
    assert read_datalist_file(monai, split="val") == [{"image": str(images / "img/c.png"), "label": 1}]
    assert len(read_datalist_file(monai, split=None)) == 3
    with pytest.raises(DataError, match="no list for split 'test'"):
        read_datalist_file(monai, split="test")


def test_missing_file_raises_naming_the_file_or_is_skipped(images):
    path = images / "list.csv"
    path.write_text("image,label\nimg/a.png,0\nimg/gone.png,1\n")
    with pytest.raises(DataError, match=r"gone\.png: file not found \(row 3 of .*list\.csv\)"):
        build_datalist(path)
    report = BadInputReport()
    entries = build_datalist(path, skip_bad=True, report=report, report_path=images / "bad.csv")
    assert [Path(e["image"]).name for e in entries] == ["a.png"]
    assert len(report) == 1 and report[0].path.endswith("gone.png")
    assert "gone.png" in (images / "bad.csv").read_text()


@pytest.mark.parametrize("label", ["cat", "1.5", "[1]"])
def test_non_integer_label_raises_or_is_skipped(images, label):
    path = images / "list.csv"
    path.write_text(f'image,label\nimg/a.png,0\nimg/b.png,"{label}"\n')
    with pytest.raises(DataError, match=r"list\.csv: row 3: label .* is not an integer"):
        build_datalist(path)
    assert len(build_datalist(path, skip_bad=True)) == 1


def test_decathlon_label_path_is_the_mask(images):
    path = images / "dataset.json"
    path.write_text(json.dumps({"training": [{"image": "img/a.png", "label": "img/m.png"}]}))
    assert read_datalist_file(path) == [{"image": str(images / "img/a.png"), "mask": str(images / "img/m.png")}]
    path.write_text(json.dumps({"training": [{"image": "img/a.png", "label": "labelsTr/a.nii.gz"}]}))
    with pytest.raises(DataError, match=r"labelsTr/a\.nii\.gz: file not found \(training\[0\]"):
        read_datalist_file(path)


def test_bad_files(tmp_path):
    no_image = tmp_path / "x.csv"
    no_image.write_text("path,label\na.png,0\n")
    with pytest.raises(DataError, match="'image' column"):
        read_datalist_file(no_image)
    broken = tmp_path / "x.json"
    broken.write_text("[{")
    with pytest.raises(DataError, match="x.json: not valid JSON"):
        read_datalist_file(broken)
    empty = tmp_path / "e.csv"
    empty.write_text("image,label\n")
    with pytest.raises(DataError, match="e.csv: no usable images"):
        build_datalist(empty)


def test_parse_label():
    assert [parse_label(v) for v in (3, "3", " 4 ", 5.0, "6.0")] == [3, 3, 4, 5, 6]
    for bad in (True, None, 1.5, "x", "nan", [1]):
        with pytest.raises(ValueError):
            parse_label(bad)


def test_real_mednist_split_csv():
    path = shared("mednist_64_500", "split.csv")
    train, test = build_datalist(path), build_datalist(path, split="test")
    assert (len(train), len(test)) == (2700, 300)
    assert Path(train[0]["image"]).is_file() and {e["label"] for e in test} == set(range(6))
    assert class_names(path) == ["0", "1", "2", "3", "4", "5"]
