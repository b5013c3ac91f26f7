"""Training on a wall-clock budget, Med-cDiff's training previews, and skipping bad inputs, through train.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from monai.bundle import run
from PIL import Image

from tiny_runs import BUNDLES, MED_CDIFF, MEDFUSION, error_messages, phantom_pngs


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_medfusion_trains_on_a_budget_shared_by_its_phases(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(out),
        **{**MEDFUSION, "budget_minutes": 0.04, "autoencoder_budget_share": 0.25})
    budget = _metrics(out)["budget"]
    assert set(budget) == {"autoencoder", "diffusion"}
    assert budget["autoencoder"]["budget_minutes"] == pytest.approx(0.01)
    left = 0.04 - budget["autoencoder"]["spent_wall_seconds"] / 60  # what the autoencoder left, at least half of 0.03
    assert budget["diffusion"]["budget_minutes"] == pytest.approx(max(left, 0.015), abs=1e-4)
    for phase in ("autoencoder", "diffusion"):
        plan = json.loads((out / phase / "budget.json").read_text())
        assert plan["planned_epochs"] >= 1 and budget[phase]["spent_wall_seconds"] > 0
    assert json.loads((out / "run_record.json").read_text())["budget"] == budget
    run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(out),
        **{**MEDFUSION, "budget_minutes": 0.04, "autoencoder_budget_share": 0.25})  # finished: nothing retrained
    assert _metrics(out)["budget"] == budget


def test_medfusion_refuses_a_budget_share_outside_0_1(tmp_path: Path) -> None:
    with pytest.raises(Exception) as raised:
        run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(tmp_path / "run"),
            **{**MEDFUSION, "budget_minutes": 1.0, "autoencoder_budget_share": 1.0})
    assert "autoencoder_budget_share must be between 0 and 1" in str(raised.value.__cause__)


@pytest.mark.parametrize("model", ["diffusion", "pix2pix"])
def test_med_cdiff_previews_and_budget(tmp_path: Path, model: str) -> None:
    out = tmp_path / "run"
    run(config_file=str(BUNDLES / "med_cdiff" / "train.json"), output_dir=str(out), model=model,
        **{**MED_CDIFF, "preview_every": 1, "preview_steps": 2, "budget_minutes": 0.02})
    grid = Image.open(out / model / f"{model}_samples.png")
    assert grid.size[0] > 16 and grid.size[1] > 2 * 16  # rows: degraded, restored, clean
    budget = json.loads((out / f"{model}_metrics.json").read_text())["budget"]
    assert budget["budget_minutes"] == pytest.approx(0.02) and budget["spent_wall_seconds"] > 0


def _folder_with_a_broken_png(tmp_path: Path) -> tuple[Path, Path]:
    data = phantom_pngs(tmp_path / "data", count=6, size=32)
    broken = data / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return data, broken


def test_medfusion_names_a_bad_input_or_skips_it_when_asked(tmp_path: Path) -> None:
    data, broken = _folder_with_a_broken_png(tmp_path)
    settings = {**MEDFUSION, "dataset_dir": str(data), "num_classes": 1}
    with pytest.raises(Exception) as raised:
        run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(tmp_path / "refused"), **settings)
    assert f"{broken}: not a readable image" in error_messages(raised.value)
    out = tmp_path / "skipped"
    run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(out), skip_bad=True, **settings)
    rows = list(csv.DictReader((out / "skipped_inputs.csv").open()))
    assert [Path(r["path"]).name for r in rows] == ["broken.png"]
    assert _metrics(out)["num_images"] == 6


def test_med_cdiff_skips_bad_inputs_when_asked(tmp_path: Path) -> None:
    data, _ = _folder_with_a_broken_png(tmp_path)
    out = tmp_path / "skipped"
    run(config_file=str(BUNDLES / "med_cdiff" / "train.json"), output_dir=str(out), model="pix2pix",
        dataset_dir=str(data), skip_bad=True, **MED_CDIFF)
    rows = list(csv.DictReader((out / "skipped_inputs.csv").open()))
    assert [Path(r["path"]).name for r in rows] == ["broken.png"]
