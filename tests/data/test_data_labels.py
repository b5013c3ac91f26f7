"""Issue case 9: labels are validated when the datalist is built (non-negative integers, or class names)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from data_factory import write_png

from monai_synth.cli import main
from monai_synth.data import BadInputReport, DataError, build_datalist, class_names


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for name in ("a.png", "b.png", "c.png"):
        write_png(tmp_path / "img" / name, np.zeros((4, 4), np.uint8))
    return tmp_path


def test_negative_label_is_refused_naming_the_row(images, capsys):
    path = images / "list.csv"
    path.write_text("image,label\nimg/a.png,0\nimg/b.png,-1\n")
    with pytest.raises(DataError, match=r"list\.csv: row 3: label -1 is negative"):
        build_datalist(path)
    report = BadInputReport()
    assert len(build_datalist(path, skip_bad=True, report=report)) == 1
    assert "row 3: label -1 is negative" in report[0].reason
    assert main(["datalist", str(path), "--out", str(images / "out" / "list.json")]) == 1
    assert "row 3: label -1 is negative" in capsys.readouterr().err
    assert not (images / "out" / "list.json").exists()


def test_class_names_map_to_contiguous_ids_over_all_splits(images):
    path = images / "list.csv"
    path.write_text("image,label,split\nimg/a.png,pneumonia,train\nimg/b.png, normal ,train\n"
                    "img/c.png,covid,test\n")
    assert class_names(path) == ["covid", "normal", "pneumonia"]
    assert [e["label"] for e in build_datalist(path)] == [2, 1]
    assert [e["label"] for e in build_datalist(path, split="test")] == [0]


def test_mixed_integers_and_names_are_refused(images):
    path = images / "list.json"
    path.write_text(json.dumps([{"image": "img/a.png", "label": 0}, {"image": "img/b.png", "label": "cat"}]))
    with pytest.raises(DataError, match=r"entry 1: label 'cat' is not an integer; other rows hold integer"):
        build_datalist(path)


def test_label_gaps_are_logged(images, caplog):
    path = images / "list.csv"
    path.write_text("image,label\nimg/a.png,0\nimg/b.png,999\n")
    with caplog.at_level(logging.WARNING):
        assert [e["label"] for e in build_datalist(path)] == [0, 999]
    assert "leave 998 class id(s) without images; the models will have 1000 classes" in caplog.text
