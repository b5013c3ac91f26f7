"""Training on a messy PACS-like export (issue "never lose, mix or falsify data", case 11): the bundles stop and
name every problem, or, with ``skip_bad``, train on what is usable and list what they skipped. The export is
never changed."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from monai.bundle import run

from tiny_runs import BUNDLES, MED_CDIFF, MEDFUSION, error_messages, train_med_cdiff

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from data_factory import fingerprint  # noqa: E402
from pacs_factory import write_messy_export  # noqa: E402

BAD = {"PAT2/X0", "PAT2/SR/REPORT", "PAT9/GONE1", "PAT9/GONE2", "PAT1/SYN/S1"}  # the synthetic series too


def _skipped(out: Path, root: Path) -> set[str]:
    rows = csv.DictReader((out / "skipped_inputs.csv").open())
    return {Path(r["path"]).relative_to(root).as_posix() for r in rows}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    write_messy_export(root)
    return root


def test_medfusion_on_a_messy_export_names_every_problem_or_skips_them(export: Path, tmp_path: Path) -> None:
    before = fingerprint(export)
    settings = {**MEDFUSION, "dataset_dir": str(export), "num_classes": 1}
    with pytest.raises(Exception) as raised:
        run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(tmp_path / "refused"), **settings)
    message = error_messages(raised.value)
    assert "4 bad inputs" in message and all(n in message for n in ("X0", "REPORT", "GONE1", "GONE2"))
    out = tmp_path / "run"
    run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(out), skip_bad=True, **settings)
    assert _skipped(out, export) == BAD
    assert json.loads((out / "metrics.json").read_text())["num_images"] == 7
    assert fingerprint(export) == before


def test_med_cdiff_on_a_messy_export_skips_and_lists(export: Path, tmp_path: Path) -> None:
    before = fingerprint(export)
    out = tmp_path / "run"
    run(config_file=str(BUNDLES / "med_cdiff" / "train.json"), output_dir=str(out), model="pix2pix",
        dataset_dir=str(export), skip_bad=True, **MED_CDIFF)
    assert _skipped(out, export) == BAD
    assert fingerprint(export) == before


def test_restoring_a_messy_export_names_every_problem_or_skips_them(export: Path, tmp_path: Path) -> None:
    import pydicom

    run_dir = train_med_cdiff(tmp_path / "model", "pix2pix")
    before = fingerprint(export)
    infer = {"config_file": str(BUNDLES / "med_cdiff" / "infer.json"), "checkpoint_dir": str(run_dir),
             "model": "pix2pix", "input": str(export), "modality": "CT", "device": "cpu", "progress": False}
    with pytest.raises(Exception) as raised:
        run(output_dir=str(tmp_path / "refused"), **infer)
    assert "X0" in error_messages(raised.value) and not (tmp_path / "refused" / "skipped_inputs.csv").exists()
    out = tmp_path / "restored"
    run(output_dir=str(out), skip_bad=True, **infer)
    skipped = _skipped(out, export)
    assert "PAT2/X0" in skipped and "PAT1/SYN/S1" in skipped
    restored = [pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))]
    assert len(restored) == 6  # 3 + 2 CT slices and the CT with a VR mismatch, each at its own size
    assert {(d.Rows, d.Columns) for d in restored} >= {(8, 8), (6, 6)}
    assert all(d.ImageType[0] == "DERIVED" for d in restored)
    assert fingerprint(export) == before
