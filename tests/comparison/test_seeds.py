"""Comparisons over several seeds (mean ± sd) and ADA's p / r_t curves of the ablation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_synth.cli import build_parser, main
from monai_synth.comparison import runs
from monai_synth.comparison.ablation import VARIANT_KEYS, AblationSettings, _chosen_variants, _variant_overrides
from monai_synth.comparison.ada_curves import ada_curve, plot_ada_curves
from monai_synth.comparison.compare import SEED_SCORES, CompareSettings
from monai_synth.comparison.seeds import run_over_seeds, seed_settings, seeds_markdown, summarise
from monai_synth.data.errors import DataError


def _rows(fid_medfusion: float, fid_gan: float | None) -> list[dict]:
    return [{"model": "medfusion", "fid": fid_medfusion, "kid_mean": 0.05, "precision": 0.5, "recall": 0.1,
             "train_seconds": 300.0},
            {"model": "stylegan2_ada", "fid": fid_gan, "kid_mean": 0.08, "precision": 0.4, "recall": 0.0,
             "train_seconds": 301.0}]  # fmt: skip


def test_summary_is_mean_and_sample_sd_over_seeds() -> None:
    per_seed = {0: _rows(150.0, 200.0), 1: _rows(160.0, float("nan")), 2: _rows(170.0, 210.0)}
    rows = summarise(per_seed, "model")
    assert [r["model"] for r in rows] == ["medfusion", "stylegan2_ada"]
    medfusion, gan = rows
    assert medfusion["fid"] == pytest.approx(160.0) and medfusion["fid_sd"] == pytest.approx(10.0)  # n - 1
    assert medfusion["fid_values"] == [150.0, 160.0, 170.0] and medfusion["seeds"] == [0, 1, 2]
    assert medfusion["recall_sd"] == 0.0 and medfusion["train_seconds"] == 300.0
    assert "fid" not in gan and gan["kid_mean"] == pytest.approx(0.08)  # a seed without a finite FID: no mean
    text = seeds_markdown(rows, "model", SEED_SCORES)
    assert "| medfusion | 160.0 ± 10.0 | 50.0 ± 0.0 | 0.500 ± 0.000 |" in text
    assert "| 150.0, 160.0, 170.0 |" in text and "| stylegan2_ada | n/a | 80.0 ± 0.0 |" in text


def test_one_seed_has_no_spread() -> None:
    rows = summarise({3: _rows(150.0, 200.0)}, "model")
    assert rows[0]["fid"] == 150.0 and rows[0]["fid_sd"] is None  # not measured, not zero
    assert "| medfusion | 150.0 | 50.0 | 0.500 |" in seeds_markdown(rows, "model", SEED_SCORES)


def test_each_seed_runs_the_single_seed_command_in_its_folder(tmp_path: Path) -> None:
    settings = CompareSettings(out=str(tmp_path / "cmp"), minutes=5.0, seed=7)
    calls: list[CompareSettings] = []

    def run_one(one: CompareSettings) -> dict:
        calls.append(one)
        return {"rows": _rows(100.0 + one.seed, 200.0), "title": "Medfusion vs StyleGAN2-ADA"}

    result = run_over_seeds(settings, [0, 1, 2], run_one, "compare", "model", SEED_SCORES)
    assert [(c.seed, c.out) for c in calls] == [(s, str(tmp_path / "cmp" / f"seed_{s}")) for s in (0, 1, 2)]
    assert calls[0].minutes == 5.0 and seed_settings(settings, 4).out.endswith("seed_4")
    assert result["rows"][0]["fid"] == pytest.approx(101.0) and result["rows"][0]["fid_sd"] == pytest.approx(1.0)
    saved = json.loads((tmp_path / "cmp" / "compare_seeds.json").read_text())
    assert saved["settings"]["seeds"] == [0, 1, 2] and "seed" not in saved["settings"]
    assert saved["title"] == "Medfusion vs StyleGAN2-ADA, 3 seeds" and saved["rows"][0]["fid_values"][2] == 102.0
    assert "| medfusion | 101.0 ± 1.0 |" in (tmp_path / "cmp" / "compare_seeds.md").read_text()
    with pytest.raises(DataError, match="distinct"):  # the CLI prints it as an error: line
        run_over_seeds(settings, [1, 1], run_one, "compare", "model", SEED_SCORES)


def test_cli_takes_seeds_and_a_pretrained_source(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = build_parser().parse_args(["compare", "--out", "x", "--seeds", "0", "1", "2"])
    assert args.seeds == [0, 1, 2]
    with pytest.raises(SystemExit):  # one or the other
        build_parser().parse_args(["compare", "--out", "x", "--seed", "1", "--seeds", "0", "1"])
    capsys.readouterr()  # argparse's usage message
    args = build_parser().parse_args(["ablate-stylegan2", "--out", "x", "--pretrained", "src/checkpoints"])
    assert args.pretrained == "src/checkpoints" and args.seeds is None
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    args = ["ablate-stylegan2", "--out", str(out), "--pretrained", str(tmp_path / "empty"), "--device", "cpu"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "empty") in err and "no StyleGAN2-ADA checkpoint" in err


def test_a_subset_of_the_variants_can_be_run() -> None:
    assert VARIANT_KEYS == ("noada_scratch", "ada_scratch", "noada_transfer", "ada_transfer")
    chosen = _chosen_variants(AblationSettings(out="x", variants=("ada_scratch", "noada_scratch")))
    assert chosen == [("no ADA, from scratch", False, False, "variant0_noada_scratch"),
                      ("ADA, from scratch", True, False, "variant1_ada_scratch")]  # fmt: skip
    assert len(_chosen_variants(AblationSettings(out="x"))) == 4
    with pytest.raises(ValueError, match="unknown variants"):
        _chosen_variants(AblationSettings(out="x", variants=("ada",)))
    args = build_parser().parse_args(["ablate-stylegan2", "--out", "x", "--variants", "noada_scratch", "ada_scratch"])
    assert args.variants == ["noada_scratch", "ada_scratch"]


def test_runs_without_ada_keep_p_at_zero_and_measure_r_t() -> None:
    settings = AblationSettings(out="x")
    assert _variant_overrides(False, False, Path("p"), settings) == {"augment_p": 0.0, "ada_target": None,
                                                                     "resume_from": ""}  # fmt: skip
    with_ada = _variant_overrides(True, True, Path("p"), settings)
    assert with_ada["ada_target"] == 0.6 and with_ada["resume_from"] == "p"


def test_ada_curve_reads_the_last_checkpoint_and_plots(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    history = {"every": 10, "iterations": [10, 20], "values": {"kimg": [0.1, 0.2], "ada_p": [0.0, 0.01],
                                                               "r_t": [0.3, 0.7], "loss": [1.0, 0.9]}}  # fmt: skip
    torch.save({"history": {"every": 10, "iterations": [10], "values": {"kimg": [0.1]}}},
               run / "checkpoints" / "stylegan2_checkpoint_10.pt")  # fmt: skip
    torch.save({"history": history, "ada": {}}, run / "checkpoints" / "stylegan2_checkpoint_20.pt")
    curve = ada_curve(run)
    assert curve == {"kimg": [0.1, 0.2], "ada_p": [0.0, 0.01], "r_t": [0.3, 0.7]}
    assert ada_curve(tmp_path / "none") == {"kimg": [], "ada_p": [], "r_t": []}
    path = plot_ada_curves([("ADA", curve), ("ADA", curve), ("no ADA", curve)], tmp_path / "ada.png", 0.6)
    image = np.asarray(Image.open(path))
    assert image.shape[0] > 100 and image.std() > 0 and not list(tmp_path.glob(".*tmp*"))


def test_a_finished_run_is_reused_only_with_its_own_settings(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    settings = {"seed": 0, "resume_from": "a/checkpoints", "evaluation#interval": 0, "evaluation#interval_kimg": 0,
                "output_dir": str(run), "kimg": 1.5}  # fmt: skip
    (run / "run.json").write_text(json.dumps({"model": "stylegan2_ada", "kimg": 1.5, "settings": settings}))
    same = runs.train_stylegan2(run, {"seed": 0, "resume_from": "a/checkpoints"}, {"kimg": 1.5})
    assert same["kimg"] == 1.5  # reused, not trained
    with pytest.raises(DataError, match="resume_from differ") as err:
        runs.train_stylegan2(run, {"seed": 0, "resume_from": "b/checkpoints"}, {"kimg": 1.5})
    assert str(run) in str(err.value)
    (run / "run.json").write_text(json.dumps({"model": "stylegan2_ada", "kimg": 1.5}))  # recorded before settings
    assert runs.train_stylegan2(run, {"seed": 5}, {"kimg": 9})["kimg"] == 1.5


def test_r_t_of_a_run_without_an_ada_controller_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    history = {"values": {"kimg": [0.1], "ada_p": [0.0], "r_t": [0.0]}}  # the placeholder a run without ADA logs
    torch.save({"history": history}, tmp_path / "checkpoints" / "stylegan2_checkpoint_10.pt")
    assert ada_curve(tmp_path)["r_t"] == []
    torch.save({"history": history, "ada": {}}, tmp_path / "checkpoints" / "stylegan2_checkpoint_20.pt")
    assert ada_curve(tmp_path)["r_t"] == [0.0]
