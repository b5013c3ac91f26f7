"""Creating a reader study: selection, orders, images without metadata, and bad input from the command line."""

from __future__ import annotations

import json
import struct
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from monai_synth.cli import main
from monai_synth.data.errors import DataError
from monai_synth.turing.study import balanced_order, create_study, load_study

sys.path.insert(0, str(Path(__file__).resolve().parent))
from turing_factory import image_folder, three_models  # noqa: E402

REAL_CT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"


def png_chunks(data: bytes) -> list[str]:
    """Chunk types of a PNG file, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append(kind.decode("ascii"))
        pos += 12 + length
    return chunks


def test_real_fake_study_layout_and_orders(tmp_path):
    real, fakes = three_models(tmp_path)
    study = create_study(tmp_path / "study", real, fakes, n_real=6, n_fake=4, readers=["ann", "bob", "cy"],
                         seed=5, size=20, likert=True)
    assert study.info["counts"] == {"real": 6, "A": 4, "B": 4, "C": 4}
    assert study.info["trials_per_reader"] == 18 and study.likert
    truths = Counter(img["truth"] for img in study.key["images"].values())
    assert truths == {"real": 6, "A": 4, "B": 4, "C": 4}
    orders = [[step["trial"] for step in study.order(r)] for r in study.reader_ids]
    assert all(sorted(o) == sorted(study.key["trials"]) for o in orders)  # every reader sees every trial
    assert len({tuple(o) for o in orders}) == 3  # in their own order
    for name in ("key.json", "access.json"):
        assert (study.root / name).stat().st_mode & 0o077 == 0
    files = {Path(img["file"]).name for img in study.key["images"].values()}
    assert not any(name in (study.root / "study.json").read_text() for name in files)


def test_selection_and_orders_are_seeded(tmp_path):
    real, fakes = three_models(tmp_path)

    def sources(study_dir):
        study = create_study(study_dir, real, fakes, n_real=3, n_fake=2, seed=7, size=16)
        images, trials = study.key["images"], study.key["trials"]
        return [[images[i]["file"] for i in step["images"]] for step in study.order("r1")], \
            sorted(images[i]["file"] for t in trials.values() for i in t["images"])

    first, second = sources(tmp_path / "s1"), sources(tmp_path / "s2")
    assert first == second
    other = create_study(tmp_path / "s4", real, fakes, n_real=3, n_fake=2, seed=8, size=16)
    assert [other.key["images"][s["images"][0]]["file"] for s in other.order("r1")] != [f[0] for f in first[0]]


def test_balanced_order_spreads_every_group():
    rng = np.random.default_rng(0)
    order = balanced_order({"real": list(range(20)), "A": list(range(100, 120))}, rng)
    assert sorted(order) == list(range(20)) + list(range(100, 120))
    for start in range(0, 40, 10):  # every stretch of 10 holds about 5 of each
        reals = sum(1 for x in order[start:start + 10] if x < 100)
        assert 3 <= reals <= 7


def test_two_afc_pairs_and_sides(tmp_path):
    real, fakes = three_models(tmp_path, n_real=12, n_fake=4)
    study = create_study(tmp_path / "study", real, fakes, mode="2afc", n_fake=4, size=16, readers=["a", "b"])
    trials = study.key["trials"]
    assert len(trials) == 12
    assert all(study.key["images"][t["real_image"]]["truth"] == "real" for t in trials.values())
    assert len({t["real_image"] for t in trials.values()}) == 12  # each real image used once
    for reader in study.reader_ids:
        left_real = sum(s["images"][0] == trials[s["trial"]]["real_image"] for s in study.order(reader))
        assert left_real == 6  # half the pairs show the real image on the left


def test_images_are_same_size_same_format_and_stripped(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x010E] = "patient Jane Doe"  # ImageDescription
    rgb.save(real / "jane_doe.jpg", exif=exif)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "SECRET-REAL")
    Image.fromarray(np.full((30, 30), 9000, dtype=np.uint16)).save(real / "sixteen.png", pnginfo=info)
    fake = image_folder(tmp_path / "fake", 2, shape=(64, 64))
    study = create_study(tmp_path / "study", real, {"gan": str(fake)}, n_real=2, n_fake=2, size=24)
    seen = set()
    for image_id in study.key["images"]:
        data = study.image_path(image_id).read_bytes()
        assert png_chunks(data) == ["IHDR", "IDAT", "IEND"]
        assert b"SECRET" not in data and b"Jane" not in data and b"Exif" not in data
        with Image.open(study.image_path(image_id)) as img:
            seen.add((img.format, img.size, img.mode))
            assert not img.info and not img.getexif()
    assert seen == {("PNG", (24, 24), "RGB")}  # one colour input: every image RGB, all 24 x 24


@pytest.mark.skipif(not REAL_CT.is_dir(), reason="shared real CT data not present")
def test_real_ct_dicom_with_a_window_preset(tmp_path):
    fake = image_folder(tmp_path / "fake", 3, shape=(32, 32))
    study = create_study(tmp_path / "study", REAL_CT, {"gan": str(fake)}, n_real=3, n_fake=3, size=32,
                         window="liver")
    reals = [i for i, img in study.key["images"].items() if img["truth"] == "real"]
    for image_id in reals:
        data = study.image_path(image_id).read_bytes()
        assert png_chunks(data) == ["IHDR", "IDAT", "IEND"] and b"KiTS" not in data
        pixels = np.asarray(Image.open(study.image_path(image_id)))
        assert pixels.shape == (32, 32) and pixels.min() == 0 and pixels.max() > 200  # air black, bone white
    header = create_study(tmp_path / "header", REAL_CT, {"gan": str(fake)}, n_real=1, n_fake=1, size=16,
                          window="-600,1500")
    assert header.info["window"] == "-600,1500"


def _cli_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_cli_bad_input_gives_one_line_errors(tmp_path, capsys):
    real, fakes = three_models(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    base = ["turing", "create", str(tmp_path / "s"), "--real", str(real), "--size", "16"]
    assert str(empty) in _cli_error(capsys, [*base, "--fake", f"A={empty}"])
    assert "no such file" in _cli_error(capsys, [*base, "--fake", f"A={tmp_path / 'missing'}"])
    line = _cli_error(capsys, [*base, "--fake", f"A={fakes['A']}", "--n-fake", "9"])
    assert "fewer images than asked: 4 found, 9 asked" in line and fakes["A"] in line
    broken = image_folder(tmp_path / "broken", 2)
    (broken / "img001.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    line = _cli_error(capsys, [*base, "--fake", f"A={broken}", "--n-fake", "2"])
    assert "img001.png" in line
    assert "NAME=VALUE" in _cli_error(capsys, [*base, "--fake", str(fakes["A"])])
    assert "unknown" in _cli_error(capsys, [*base, "--fake", f"A={fakes['A']}", "--window", "kidney"])


def test_cli_refuses_foreign_or_missing_study_folders(tmp_path, capsys):
    real, fakes = three_models(tmp_path)
    assert main(["turing", "create", str(tmp_path / "s"), "--real", str(real), "--fake", f"A={fakes['A']}",
                 "--n-real", "2", "--n-fake", "2", "--size", "16"]) == 0
    capsys.readouterr()
    info = json.loads((tmp_path / "s" / "study.json").read_text())
    info["version"] = 2
    (tmp_path / "s" / "study.json").write_text(json.dumps(info))
    for command in ("serve", "report"):
        line = _cli_error(capsys, ["turing", command, str(tmp_path / "s")])
        assert "version 2 is not supported" in line and "study.json" in line
    assert "not a turing study folder" in _cli_error(capsys, ["turing", "report", str(real)])
    assert "not an empty folder" in _cli_error(
        capsys, ["turing", "create", str(tmp_path / "s"), "--real", str(real), "--fake", f"A={fakes['A']}"])


def test_load_study_rejects_incomplete_folder(tmp_path):
    real, fakes = three_models(tmp_path)
    create_study(tmp_path / "s", real, {"A": fakes["A"]}, n_real=2, n_fake=2, size=16)
    (tmp_path / "s" / "key.json").unlink()
    with pytest.raises(DataError, match="key.json is missing"):
        load_study(tmp_path / "s")
