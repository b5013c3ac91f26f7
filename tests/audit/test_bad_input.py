"""Bad input gives one clear message naming the folder and the problem, and exit status 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import phantoms, write_pngs

from monai_synth.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_pngs(phantoms(range(6)), root / "train")
    write_pngs(phantoms(range(50, 56)), root / "holdout")
    return root


def audit(data: Path, synthetic: Path, out: Path, *extra: str) -> list[str]:
    return ["audit", str(synthetic), "--out", str(out), "--train", str(data / "train"), "--holdout",
            str(data / "holdout"), "--no-inception", "--bootstrap", "20", *extra]


def fails(argv: list[str], capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_empty_synthetic_folder(data: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    err = fails(audit(data, tmp_path / "empty", tmp_path / "out"), capsys)
    assert str(tmp_path / "empty") in err and "empty" in err.split(":", 2)[-1]


def test_folder_without_images(data: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no images here")
    err = fails(audit(data, tmp_path / "notes", tmp_path / "out"), capsys)
    assert str(tmp_path / "notes") in err and "no images found" in err


def test_images_of_another_size(data: Path, tmp_path: Path, capsys) -> None:
    write_pngs(phantoms(range(3), 48), tmp_path / "big")
    err = fails(audit(data, tmp_path / "big", tmp_path / "out"), capsys)
    assert str(tmp_path / "big") in err and "48 x 48" in err and "32 x 32" in err and "img_000.png" in err
    # asked for explicitly, the size is a choice: both sets are brought to it
    assert main(audit(data, tmp_path / "big", tmp_path / "out2", "--image-size", "32")) == 0


def test_one_image_of_another_size_among_good_ones(data: Path, tmp_path: Path, capsys) -> None:
    write_pngs(phantoms(range(3)), tmp_path / "mixed")
    write_pngs(phantoms(range(1), 40), tmp_path / "mixed", prefix="odd")
    err = fails(audit(data, tmp_path / "mixed", tmp_path / "out"), capsys)
    assert "40 x 40" in err and "odd_000.png" in err and str(tmp_path / "mixed") in err


def test_images_of_another_channel_count(data: Path, tmp_path: Path, capsys) -> None:
    rgb = phantoms(range(3)).expand(-1, 3, -1, -1).clone()
    rgb[:, 0] = rgb[:, 0] * 0.5  # really colour, not grey saved as RGB
    write_pngs(rgb, tmp_path / "rgb")
    err = fails(audit(data, tmp_path / "rgb", tmp_path / "out"), capsys)
    assert str(tmp_path / "rgb") in err and "3 channel(s)" in err and "training images 1" in err


def test_missing_training_set_and_missing_folders(data: Path, tmp_path: Path, capsys) -> None:
    write_pngs(phantoms(range(3)), tmp_path / "synth")
    err = fails(["audit", str(tmp_path / "synth"), "--out", str(tmp_path / "out"), "--no-inception"], capsys)
    assert "give the training images" in err
    err = fails(audit(data, tmp_path / "nowhere", tmp_path / "out"), capsys)
    assert str(tmp_path / "nowhere") in err and "no such file or folder" in err


def test_holdout_that_is_the_training_set(data: Path, tmp_path: Path, capsys) -> None:
    write_pngs(phantoms(range(3)), tmp_path / "synth")
    argv = ["audit", str(tmp_path / "synth"), "--out", str(tmp_path / "out"), "--train", str(data / "train"),
            "--no-inception"]  # no --holdout: the training folder has no test split, so it is the training set
    err = fails(argv, capsys)
    assert "shares 6 file(s) with the training set" in err


def test_output_inside_the_synthetic_folder(data: Path, tmp_path: Path, capsys) -> None:
    write_pngs(phantoms(range(3)), tmp_path / "synth")
    err = fails(audit(data, tmp_path / "synth", tmp_path / "synth" / "audit"), capsys)
    assert str(tmp_path / "synth") in err


def test_a_good_folder_passes(data: Path, tmp_path: Path, capsys) -> None:
    write_pngs(phantoms(range(100, 104)), tmp_path / "synth")
    assert main(audit(data, tmp_path / "synth", tmp_path / "out")) == 0
    out = capsys.readouterr().out
    assert "copy rate [pixel]" in out and "membership inference" in out and "audit.json" in out
