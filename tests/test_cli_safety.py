"""Issue cases 1 and 3 at the command line, and the CLI's --version, --help defaults and inspect status."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from monai_synth import __version__
from monai_synth.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "data"))
from data_factory import fingerprint, write_class_folder, write_nifti  # noqa: E402
from dicom_factory import write_ct_series  # noqa: E402


@pytest.mark.parametrize("option", ["--out", "--report"])
def test_case1_datalist_output_onto_an_input_slice_is_refused(tmp_path, capsys, option):
    write_ct_series(tmp_path / "dcm", 3)
    before = fingerprint(tmp_path / "dcm")
    slice_file = sorted((tmp_path / "dcm").rglob("*.dcm"))[0]
    argv = ["datalist", str(tmp_path / "dcm"), "--out", str(tmp_path / "list.json"), "--skip-bad"]
    argv += ["--report", str(tmp_path / "bad.csv")]
    argv[argv.index(option) + 1] = str(slice_file)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {slice_file}: refusing to write here") and "input" in err
    assert fingerprint(tmp_path / "dcm") == before  # not one byte of the input changed


def test_case1_datalist_output_onto_a_listed_file_outside_the_source_is_refused(tmp_path, capsys):
    folder = write_class_folder(tmp_path / "images")
    (tmp_path / "list.csv").write_text("image,label\nimages/a_normal/y1.png,0\n")
    before = fingerprint(tmp_path)
    assert main(["datalist", str(tmp_path / "list.csv"), "--out", str(folder / "a_normal" / "y1.png")]) == 1
    assert "it is the input" in capsys.readouterr().err
    assert main(["datalist", str(tmp_path / "list.csv"), "--out", str(tmp_path / "list.csv")]) == 1
    assert fingerprint(tmp_path) == before


def test_case3_evaluate_output_in_the_data_folder_is_refused(tmp_path, capsys):
    folder = write_class_folder(tmp_path / "images")
    before = fingerprint(folder)
    assert main(["evaluate", "--real", str(folder), "--fake", str(folder), "--out", str(folder)]) == 1
    assert "refusing to write here" in capsys.readouterr().err
    assert main(["evaluate", "--real", str(folder), "--fake", str(folder), "--out", str(folder / "eval")]) == 1
    assert "inside the input folder" in capsys.readouterr().err
    assert fingerprint(folder) == before and not (folder / "eval").exists()


def test_decathlon_datalist_reads_label_as_mask_and_round_trips(tmp_path, capsys):
    volume = np.zeros((6, 5, 4), np.int16)
    volume[1:4, 1:4, 1:3] = 100
    write_nifti(tmp_path / "task" / "imagesTr" / "a.nii.gz", volume)
    write_nifti(tmp_path / "task" / "labelsTr" / "a.nii.gz", (volume > 0).astype(np.uint8))
    write_nifti(tmp_path / "task" / "imagesTs" / "b.nii.gz", volume)
    (tmp_path / "task" / "dataset.json").write_text(json.dumps({
        "name": "Task", "numTraining": 1,
        "training": [{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz"}],
        "test": ["./imagesTs/b.nii.gz"]}))
    from monai_synth.data import ReadImage2Dd, build_datalist

    train = build_datalist(tmp_path / "task" / "dataset.json")
    assert [e["frame"] for e in train] == [1, 2] and all(e["mask"].endswith("labelsTr/a.nii.gz") for e in train)
    item = ReadImage2Dd(keys=("image", "mask"))(train[0])
    assert item["mask"].shape == item["image"].shape and float(item["mask"].max()) == 1.0
    assert len(build_datalist(tmp_path / "task" / "dataset.json", split="test")) == 2
    out = tmp_path / "lists" / "train.json"
    assert main(["datalist", str(tmp_path / "task" / "dataset.json"), "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert list(written) == ["training"] and written["training"][0]["label"].endswith("labelsTr/a.nii.gz")
    from monai.data import load_decathlon_datalist

    assert len(load_decathlon_datalist(str(out), data_list_key="training")) == 2
    assert build_datalist(out) == train


def test_version_and_defaults_in_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"monai-synth {__version__}"
    parser = build_parser()
    helps = {name: " ".join(sub.format_help().split()) for name, sub in parser._subparsers._group_actions[0].choices.items()}
    assert "(default: train)" in helps["datalist"] and "(default: test)" in helps["evaluate"]
    assert "(default: 32)" in helps["compare"] and "(default: test)" in helps["compare"]


def test_one_reference_split_name_and_default_across_cli_and_bundles():
    parser = build_parser()
    evaluate = parser.parse_args(["evaluate", "--real", "r", "--fake", "f", "--out", "o"])
    compare = parser.parse_args(["compare", "--out", "o"])
    bundles = [json.loads((REPO / "bundles" / b / "evaluate.json").read_text()) for b in ("medfusion", "med_cdiff")]
    assert evaluate.real_split == compare.real_split == "test"
    assert all(b["real_split"] == "test" and "split" not in b for b in bundles)
