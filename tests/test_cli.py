"""The monai-synth command: inspect, datalist and the evaluate pass-through."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from monai_synth.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
REAL_CT = REPO / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"
sys.path.insert(0, str(REPO / "tests" / "data"))
from data_factory import write_class_folder, write_nifti, write_png  # noqa: E402
from dicom_factory import write_ct_series, write_sr  # noqa: E402


def _inspect_json(capsys, path, status: int = 0) -> dict:
    assert main(["inspect", str(path), "--json"]) == status
    return json.loads(capsys.readouterr().out)


def _check_real_ct(info: dict) -> None:
    assert info["kind"] == "dicom" and len(info["series"]) == 1 and info["problems"] == []
    series = info["series"][0]
    assert (series["modality"], series["slices"], series["rows"], series["columns"]) == ("CT", 18, 512, 512)
    assert (series["min"], series["max"], series["units"]) == (-1024.0, 1334.0, "HU")
    assert series["pixel_spacing"] == pytest.approx([0.6640625, 0.6640625])
    assert series["slice_spacing"] == pytest.approx(2.5)


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    return write_class_folder(tmp_path / "images")


@pytest.fixture
def real_ct() -> Path:
    if not REAL_CT.exists():
        pytest.skip(f"real data not available: {REAL_CT}")
    return REAL_CT


def test_inspect_real_ct_copied_shuffled_nested_without_extensions(tmp_path, capsys, real_ct):
    names = sorted(p.name for p in real_ct.glob("*.dcm"))
    random.Random(11).shuffle(names)
    for i, name in enumerate(names):
        target = tmp_path / "export" / f"ST{i % 2}" / f"SE{i % 3}" / f"{i:04X}{name[-6:-4]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_ct / name, target)
    _check_real_ct(_inspect_json(capsys, tmp_path / "export"))


def test_console_script_on_the_shared_folder(real_ct):
    script = shutil.which("monai-synth")
    if script is None:
        pytest.skip("console script not installed (pip install -e .)")
    run = subprocess.run([script, "inspect", "../shared/data/dicom/ct_abdomen_18", "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)
    _check_real_ct(json.loads(run.stdout))


def test_inspect_text_lists_series_and_problems(tmp_path, capsys):
    write_ct_series(tmp_path, 3, description="liver portal venous")
    write_sr(tmp_path / "sr")
    assert main(["inspect", str(tmp_path)]) == 1  # it found a problem
    out = capsys.readouterr().out
    assert "CT   'liver portal venous': 3 slices (3 files), 8 x 8, axial" in out
    assert "slice spacing 2.5 mm" in out and "HU" in out
    assert "problems (1):" in out and "no pixel data (Comprehensive SR Storage)" in out


def test_inspect_images_nifti_npz_and_datalist(tmp_path, capsys, class_folder):
    info = _inspect_json(capsys, class_folder)
    assert info["kind"] == "folder" and info["images"] == 5
    assert [(c["name"], c["images"]) for c in info["classes"]] == [("a_normal", 3), ("b_tumor", 2)]
    assert info["sizes"] == {"6 x 5": 5} and info["pixel_types"]["16-bit grayscale"] == 2
    vol = np.zeros((4, 5, 6), np.int16)
    vol[1:3, 1:3, 2:4] = 7
    write_nifti(tmp_path / "nii" / "v.nii.gz", vol)
    info = _inspect_json(capsys, tmp_path / "nii")
    assert info["images"] == 2 and info["volumes"][0]["shape"] == [4, 5, 6] and info["volumes"][0]["max"] == 7
    np.savez(tmp_path / "m.npz", train_images=np.zeros((3, 4, 4), np.uint8), train_labels=np.array([[0], [1], [1]]))
    info = _inspect_json(capsys, tmp_path / "m.npz")
    assert info["splits"] == [{"split": "train", "images": 3, "image_shape": [4, 4], "dtype": "uint8",
                               "labels": {"0": 1, "1": 2}}]
    write_png(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    (tmp_path / "l.csv").write_text("image,label\na.png,1\nmissing.png,0\n")
    info = _inspect_json(capsys, tmp_path / "l.csv", status=1)  # a problem found: non-zero exit
    assert info["entries"] == 1 and info["labels"] == {"1": 1} and len(info["problems"]) == 1
    for path in (class_folder, tmp_path / "nii", tmp_path / "m.npz"):
        assert main(["inspect", str(path)]) == 0
    assert "image folder: 5 images, 2 classes" in capsys.readouterr().out


def test_bad_input_exits_with_message(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nothing'}: no such file or folder"
    assert main(["inspect", str(tmp_path)]) == 1
    assert "no images found" in capsys.readouterr().err


def test_datalist_command_writes_json_that_reads_back(tmp_path, capsys, class_folder):
    out = tmp_path / "lists" / "train.json"
    assert main(["datalist", str(class_folder), "--out", str(out)]) == 0
    entries = json.loads(out.read_text())["training"]  # MONAI Decathlon-style sections
    assert len(entries) == 5 and entries[0]["label"] == 0
    from monai_synth.data import build_datalist

    assert build_datalist(out) == entries
    write_ct_series(tmp_path / "dcm", 2)
    write_sr(tmp_path / "dcm" / "sr")
    assert main(["datalist", str(tmp_path / "dcm"), "--out", str(out), "--modality", "CT"]) == 0
    assert [e["frame"] for e in json.loads(out.read_text())["training"]] == [0, 0]
    assert main(["datalist", str(tmp_path / "dcm"), "--out", str(out), "--skip-bad",
                 "--report", str(tmp_path / "bad.csv")]) == 0
    assert "Comprehensive SR" in (tmp_path / "bad.csv").read_text()


def test_evaluate_parser_and_lazy_pass_through(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # main() guards and creates the relative --out "o": never inside the checkout
    seen = {}
    fake = types.ModuleType("monai_synth.metrics.evaluate")
    fake.run_evaluate_cli = lambda args: seen.setdefault("args", args) and 0
    monkeypatch.setitem(sys.modules, "monai_synth.metrics.evaluate", fake)
    argv = ["evaluate", "--real", "r", "--fake", "f", "--out", "o", "--labels-real", "lr", "--labels-fake", "lf",
            "--batch-size", "8", "--device", "cpu"]
    assert main(argv) == 0
    args = seen["args"]
    assert (args.real, args.fake, args.out, args.labels_real, args.labels_fake, args.batch_size, args.device) == (
        "r", "f", "o", "lr", "lf", 8, "cpu")
    defaults = build_parser().parse_args(["evaluate", "--real", "r", "--fake", "f", "--out", "o"])
    assert (defaults.labels_real, defaults.batch_size, defaults.device) == (None, None, None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--real", "r"])
