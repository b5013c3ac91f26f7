"""Bad input gives one clear message naming the folder and the problem (and exit status 1 from the command)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from utility_data import SMALL, write_class_folders

from monai_synth.cli import main
from monai_synth.data.errors import DataError
from monai_synth.utility import UtilityStudy


def _run(synthetic: Path, real: Path, out: Path, **extra) -> None:
    UtilityStudy(synthetic, real, out, **{**SMALL, **extra}).run()


def _fails(capsys: pytest.CaptureFixture, synthetic: Path, real: Path, out: Path) -> str:
    argv = ["utility", str(synthetic), "--real", str(real), "--out", str(out), "--seeds", "0", "--train-steps", "2",
            "--networks", "monai_classifier", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_empty_synthetic_folder(tmp_path: Path, real: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    err = _fails(capsys, tmp_path / "empty", real, tmp_path / "out")
    assert err == f"error: {tmp_path / 'empty'}: the synthetic image folder is empty"
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_missing_synthetic_folder(tmp_path: Path, real: Path, capsys: pytest.CaptureFixture) -> None:
    err = _fails(capsys, tmp_path / "nothing", real, tmp_path / "out")
    assert err == f"error: {tmp_path / 'nothing'}: no such folder or file of synthetic images"


def test_one_class_synthetic_folder(tmp_path: Path, real: Path, capsys: pytest.CaptureFixture) -> None:
    one = write_class_folders(tmp_path / "one", [12], seed=4)
    err = _fails(capsys, one, real, tmp_path / "out")
    assert str(one) in err and "all 12 synthetic images are of one class (0: c0)" in err
    assert "at least two classes" in err


def test_unlabelled_synthetic_images(tmp_path: Path, real: Path) -> None:
    flat = tmp_path / "flat"
    write_class_folders(flat, [3, 3], seed=4)
    for p in flat.rglob("*.png"):
        shutil.move(p, flat / f"{p.parent.name}_{p.name}")
    for d in flat.iterdir():
        if d.is_dir():
            d.rmdir()
    with pytest.raises(DataError, match="6 of 6 synthetic images have no class label") as caught:
        _run(flat, real, tmp_path / "out")
    assert caught.value.path == str(flat)
    labels = tmp_path / "labels.csv"  # a labels file fixes it
    labels.write_text("image,label\n" + "".join(f"{p.name},{int(p.name[1])}\n" for p in sorted(flat.glob("*.png"))))
    metrics = UtilityStudy(flat, real, tmp_path / "out", synthetic_labels=labels, **SMALL).run()
    assert metrics["synthetic_per_class"] == [3, 3, 0]
    assert any("no image of class 2" in w for w in metrics["warnings"])


def test_class_missing_from_real_test_split(tmp_path: Path, synthetic: Path, capsys: pytest.CaptureFixture) -> None:
    real = tmp_path / "real"
    write_class_folders(real / "train", [8, 8, 8], seed=1)
    write_class_folders(real / "test", [5, 5, 0], seed=2)
    shutil.rmtree(real / "test" / "c2")
    err = _fails(capsys, synthetic, real, tmp_path / "out")
    assert str(real) in err and "split 'test'" in err
    assert "the held-out split has no image of class 2" in err and "every class in the test set" in err


def test_synthetic_images_of_another_size(tmp_path: Path, real: Path, capsys: pytest.CaptureFixture) -> None:
    big = write_class_folders(tmp_path / "big", [4, 4, 4], seed=4, size=32)
    err = _fails(capsys, big, real, tmp_path / "out")
    assert err.startswith(f"error: {big}: synthetic images are 32 x 32 px")
    assert "the real images are 16 x 16 px" in err


def test_synthetic_images_of_another_channel_count(tmp_path: Path, real: Path, capsys: pytest.CaptureFixture) -> None:
    rgb = write_class_folders(tmp_path / "rgb", [4, 4, 4], seed=4, mode="RGB")
    err = _fails(capsys, rgb, real, tmp_path / "out")
    assert err.startswith(f"error: {rgb}: synthetic images have 3 channel(s)")
    assert "the real images have 1" in err


def test_synthetic_labels_out_of_range(tmp_path: Path, real: Path) -> None:
    many = write_class_folders(tmp_path / "many", [2, 2, 2, 2], seed=4)
    with pytest.raises(DataError, match=r"synthetic class labels range 0\.\.3, but the real data has classes 0\.\.2"):
        _run(many, real, tmp_path / "out")


def test_unlabelled_real_data_and_medcdiff_models_are_refused(tmp_path: Path, synthetic: Path) -> None:
    flat = tmp_path / "flat_real"
    flat.mkdir()
    for p in sorted((synthetic / "c0").glob("*.png"))[:3]:
        shutil.copy(p, flat / p.name)
    with pytest.raises(DataError, match="have no class label; utility needs labelled real images"):
        _run(synthetic, flat, tmp_path / "out", train_split="all")
    restorer = tmp_path / "med_cdiff_run" / "diffusion"
    restorer.mkdir(parents=True)
    (restorer / "final.pt").write_bytes(b"")
    with pytest.raises(DataError, match="Med-cDiff model restores images"):
        _run(tmp_path / "med_cdiff_run", tmp_path / "x", tmp_path / "out2")


def test_output_folder_inside_the_real_data_is_refused(real: Path, synthetic: Path) -> None:
    with pytest.raises(DataError, match="input"):
        _run(synthetic, real, real / "train" / "utility")
    assert not (real / "train" / "utility").exists()
    assert json.dumps(SMALL)  # the shared settings stay plain data
