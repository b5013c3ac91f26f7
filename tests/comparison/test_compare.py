"""``monai-synth compare`` and ``ablate-stylegan2``: budgets, tables, and tiny end-to-end runs on the phantom."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from monai_synth.cli import build_parser, main
from monai_synth.comparison import compare as compare_module
from monai_synth.comparison.ablation import VARIANTS, balanced_subset
from monai_synth.comparison.budget import StepTiming, plan_stylegan2
from monai_synth.comparison.overrides import parse_overrides
from monai_synth.comparison.runs import class_counts
from monai_synth.comparison.table import markdown_table, write_table

STYLEGAN2_TINY = ["channel_base=128", "channel_max=16", "z_dim=8", "w_dim=8", "mapping_layers=1", "batch_size=4",
                  "log_every=2"]  # a loss-history window (ADA's p and r_t curves) every 2 iterations
MEDFUSION_TINY = [
    "batch_size=4", "autoencoder_batch_size=4", "precision=fp32", "autoencoder_def#channels=[8,16]",
    "autoencoder_def#norm_num_groups=8", "autoencoder_def#latent_channels=2", "discriminator_def#channels=8",
    "unet_def#channels=[16,32]", "unet_def#attention_levels=[false,true]", "unet_def#norm_num_groups=8",
    "unet_def#num_head_channels=8", "noise_schedule#num_steps=20", "sample#steps=2", "sample#per_class=2",
]  # fmt: skip
COMMON = ["--image-size", "16", "--num-samples", "8", "--device", "cpu", "--phantom-count", "16", "--bootstrap", "5"]


def _repeat(flag: str, items: list[str]) -> list[str]:
    return [x for item in items for x in (flag, item)]


def compare_args(out: Path, minutes: str = "0.05") -> list[str]:
    return ["compare", "--out", str(out), "--minutes", minutes, *COMMON, *_repeat("--medfusion", MEDFUSION_TINY),
            "--medfusion-sample", "steps=2", *_repeat("--stylegan2", STYLEGAN2_TINY)]  # fmt: skip


def test_parse_overrides() -> None:
    parsed = parse_overrides(["unet_def#channels=[16, 32]", "precision=fp32", "ada_target=null", "lr=2e-4", "x=a=b"])
    assert parsed == {"unet_def#channels": [16, 32], "precision": "fp32", "ada_target": None, "lr": 2e-4, "x": "a=b"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_overrides(["batch_size"])


def test_kimg_plan_fills_the_budget() -> None:
    stylegan2 = plan_stylegan2(60.0, StepTiming(0.5, 17, 8.5), batch_size=16)
    assert stylegan2["iterations"] == 120 and stylegan2["kimg"] == pytest.approx(1.92)
    assert plan_stylegan2(0.1, StepTiming(0.5, 17, 8.5), batch_size=16)["iterations"] == 1  # at least one


def test_kimg_plan_gives_exactly_its_iterations(tmp_path: Path) -> None:
    """``kimg = iterations x batch / 1000`` must not round up to one more iteration in the trainer."""
    from tests.engines.test_stylegan2_engine import make_trainer  # batch 4

    trainer = make_trainer(tmp_path, kimg=plan_stylegan2(17 * 0.3, StepTiming(0.3, 1, 0.3), 4)["kimg"])
    assert trainer.total_iterations() == 17


def test_balanced_subset_and_class_counts() -> None:
    entries = [{"image": f"{i}.png", "label": i % 3 if i < 30 else 0} for i in range(60)]
    subset = balanced_subset(entries, 12, seed=0)
    assert len(subset) == 12 and [sum(e["label"] == k for e in subset) for k in range(3)] == [4, 4, 4]
    assert subset == balanced_subset(entries, 12, seed=0) and subset != balanced_subset(entries, 12, seed=1)
    assert class_counts(10, 3) == [4, 3, 3] and sum(class_counts(500, 6)) == 500


def test_table_files(tmp_path: Path) -> None:
    rows = [{"model": "medfusion", "fid": 12.345, "fid_ci": [10.0, 14.0], "kid_mean": 0.0123, "kid_std": 0.001,
             "precision": 0.7, "recall": 0.4, "train_seconds": 1800.2, "length": "AE 5 + DM 40 epochs"},
            {"model": "stylegan2_ada", "fid": None, "kid_mean": 0.02, "precision": 0.5, "recall": 0.3,
             "train_seconds": 1799.0, "length": "120 kimg"}]  # fmt: skip
    text = markdown_table(rows, compare_module.COMPARE_COLUMNS)
    assert "| medfusion | 12.35 [10.00, 14.00] | 12.30 ± 1.00 | 0.700 | 0.400 | 1800 |" in text
    assert "| stylegan2_ada | n/a | 20.00 |" in text
    json_path, md_path = write_table(tmp_path, "compare", "T", rows, compare_module.COMPARE_COLUMNS, {"minutes": 30})
    assert json.loads(json_path.read_text())["rows"][0]["fid"] == 12.345 and md_path.read_text().startswith("# T")


def test_cli_knows_both_commands() -> None:
    args = build_parser().parse_args(["compare", "--out", "x", "--medfusion", "steps=2", "--minutes", "1"])
    assert args.func.__name__ == "_run_compare" and args.medfusion == ["steps=2"] and args.minutes == 1.0
    args = build_parser().parse_args(["ablate-stylegan2", "--out", "x", "--target-count", "200"])
    assert args.func.__name__ == "_run_ablation" and args.target_count == 200 and args.real_split == "test"
    assert args.ada_kimg == 20.0 and args.pretrain_minutes is None


def _check_rows(rows: list[dict], key: str, names: list[str]) -> None:
    assert [r[key] for r in rows] == names
    for row in rows:
        assert all(math.isfinite(row[k]) for k in ("fid", "kid_mean", "precision", "recall", "train_seconds"))
        assert row["train_seconds"] > 0 and row["n_fake"] == 8


def test_compare_smoke_without_inception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Train both bundles on a budget, sample; scoring stubbed (Inception is slow on CPU); resumes."""
    def fake_score(real, samples_dir, out_dir, extractor, bootstrap=50, seed=0):
        n = len(list(Path(samples_dir).glob("*.png")))
        return {"fid": 1.0, "fid_ci": [0.5, 1.5], "kid_mean": 0.1, "kid_std": 0.01, "precision": 0.5, "recall": 0.5,
                "n_real": len(real), "n_fake": n}  # fmt: skip

    monkeypatch.setattr(compare_module, "score_samples", fake_score)
    monkeypatch.setattr(compare_module, "make_extractor", lambda device: None)
    out = tmp_path / "cmp"
    assert main(compare_args(out)) == 0
    result = json.loads((out / "compare.json").read_text())
    _check_rows(result["rows"], "model", ["medfusion", "stylegan2_ada"])
    budgets = result["budgets"]  # each bundle planned its own run from its first iterations on the data
    assert budgets["stylegan2_ada"]["budget_minutes"] == 0.05 and budgets["stylegan2_ada"]["spent_train_seconds"] > 0
    assert budgets["medfusion"]["autoencoder"]["budget_minutes"] == pytest.approx(0.0125)
    left = 0.05 - budgets["medfusion"]["autoencoder"]["spent_wall_seconds"] / 60  # the run's budget less the AE's
    assert budgets["medfusion"]["diffusion"]["budget_minutes"] == pytest.approx(max(left, 0.01875), abs=1e-4)
    rows = {r["model"]: r for r in result["rows"]}
    assert rows["medfusion"]["diffusion_epochs"] >= 1 and rows["stylegan2_ada"]["kimg"] > 0
    manifest = (out / "medfusion" / "samples" / "manifest.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["condition"]["class_label"] for x in manifest) == [0] * 4 + [1] * 4  # balanced
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/run.json")}
    assert len(stamps) == 2 and main(compare_args(out)) == 0  # finished runs are not trained again
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}
    rerun = {r["model"]: r for r in json.loads((out / "compare.json").read_text())["rows"]}
    assert all(rerun[m]["sample_seconds"] == rows[m]["sample_seconds"] > 0 for m in rows)  # skipped, still reported


@pytest.mark.slow
def test_compare_end_to_end(tmp_path: Path) -> None:
    """The whole command on the phantom with a 3-second budget per model, scored by Inception (about a minute)."""
    assert main(compare_args(tmp_path)) == 0
    result = json.loads((tmp_path / "compare.json").read_text())
    _check_rows(result["rows"], "model", ["medfusion", "stylegan2_ada"])
    assert "| medfusion |" in (tmp_path / "compare.md").read_text()
    assert (tmp_path / "stylegan2_ada" / "evaluation" / "report.html").is_file()


@pytest.mark.slow
def test_ablation_end_to_end(tmp_path: Path) -> None:
    """Pretrain, four variants (ADA x transfer), scored by Inception; no-ADA runs keep p at 0 (about 1.5 minutes)."""
    args = ["ablate-stylegan2", "--out", str(tmp_path), "--minutes", "0.03", "--target-count", "8", *COMMON,
            *_repeat("--stylegan2", STYLEGAN2_TINY)]  # fmt: skip
    assert main(args) == 0
    result = json.loads((tmp_path / "ablation.json").read_text())
    _check_rows(result["rows"], "variant", [name for name, _, _ in VARIANTS])
    assert [r["ada_p"] for r in result["rows"] if "no ADA" in r["variant"]] == [0.0, 0.0]  # no augmentation at all
    assert len({r["kimg"] for r in result["rows"]}) == 1  # same length for every variant
    assert result["pretrain"]["kimg"] > 0 and "| ADA, transfer |" in (tmp_path / "ablation.md").read_text()
    assert all(r["rt_end"] is not None and -1.0 <= r["rt_end"] <= 1.0 for r in result["rows"])  # with and without ADA
    assert all(len(r["ada_curve"]["r_t"]) == len(r["ada_curve"]["kimg"]) > 0 for r in result["rows"])
    assert (tmp_path / "ablation_ada.png").is_file()


@pytest.mark.slow
def test_ablation_over_seeds_trains_the_source_once(tmp_path: Path) -> None:
    """Two seeds of the ablation from one source model; mean ± sd table and all curves (about 3 minutes)."""
    args = ["ablate-stylegan2", "--out", str(tmp_path), "--minutes", "0.03", "--target-count", "8", *COMMON,
            *_repeat("--stylegan2", STYLEGAN2_TINY), "--seeds", "0", "1"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((tmp_path / "ablation_seeds.json").read_text())
    assert [r["variant"] for r in summary["rows"]] == [name for name, _, _ in VARIANTS]
    assert all(r["seeds"] == [0, 1] and len(r["fid_values"]) == 2 for r in summary["rows"])
    assert (tmp_path / "pretrain" / "run.json").is_file() and not list(tmp_path.glob("seed_*/*pretrain"))
    for seed in (0, 1):
        assert json.loads((tmp_path / f"seed_{seed}" / "ablation.json").read_text())["settings"]["seed"] == seed
    assert (tmp_path / "ablation_ada_seeds.png").is_file() and "± " in (tmp_path / "ablation_seeds.md").read_text()
    records = [json.loads(p.read_text()) for p in tmp_path.glob("seed_*/*transfer/run.json")]
    transfers = [r["settings"]["resume_from"] for r in records]
    assert transfers == [str(tmp_path / "pretrain" / "checkpoints")] * 4


@pytest.mark.slow
def test_ablation_of_the_scratch_variants_trains_no_source(tmp_path: Path) -> None:
    """``--variants noada_scratch ada_scratch``: two runs, no source model (about a minute)."""
    args = ["ablate-stylegan2", "--out", str(tmp_path), "--minutes", "0.03", "--target-count", "8", *COMMON,
            *_repeat("--stylegan2", STYLEGAN2_TINY), "--variants", "noada_scratch", "ada_scratch"]  # fmt: skip
    assert main(args) == 0
    result = json.loads((tmp_path / "ablation.json").read_text())
    _check_rows(result["rows"], "variant", ["no ADA, from scratch", "ADA, from scratch"])
    assert result["pretrain"] is None and not (tmp_path / "pretrain").exists()
    assert result["title"].endswith("from scratch")
