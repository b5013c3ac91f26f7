"""benchmarks/quality/time_to_quality.py end to end on the phantom: tiny bundle runs, resumable, plots and table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "bundles"))
from tiny_runs import MEDFUSION  # noqa: E402

# the tiny networks of the bundle tests; the study sets the size, the recipes their sampler (50 DDIM steps
# need the bundle's 1000-step schedule), the study the evaluation interval
SKIP = ("image_size", "noise_schedule#num_steps", "sample#steps", "evaluation#interval")
TINY = [f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}" for k, v in MEDFUSION.items() if k not in SKIP]


class StubExtractor:
    """Cheap deterministic 64-d features (8 x 8 average pool) in place of Inception: no weights needed."""

    def __init__(self) -> None:
        self.images_seen = 0

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self.images_seen += len(images)
        return F.adaptive_avg_pool2d(images.float().mean(1, keepdim=True), 8).flatten(1).numpy().astype(np.float32)


def test_study_trains_each_recipe_and_budget_once_and_resumes(tmp_path: Path, capsys, monkeypatch,
                                                              quality_script) -> None:
    script = quality_script("time_to_quality")
    argv = ["--data", "", "--image-size", "16", "--budgets", "0.05", "--recipes", "old", "new", "--per-class", "2",
            "--out", str(tmp_path), "--device", "cpu", "--phantom-count", "32", "--classifier-steps", "2",
            "--kid-subsets", "2", "--sweep-steps", "2", "4", *[x for o in TINY for x in ("--override", o)]]  # fmt: skip
    results = script.main(argv, extractor=StubExtractor())

    assert set(results["runs"]) == {"old_0.05min", "new_0.05min"}
    for name, row in results["runs"].items():
        assert row["n"] == 4 and row["budget_minutes"] == 0.05
        assert row["training"]["wall_seconds"] > 0 and row["training"]["planned_seconds"] > 0
        assert set(row["training"]["phases"]) == {"autoencoder", "diffusion"}
        for key in ("fid", "kid_mean", "precision", "recall", "conditional_fidelity", "anatomy_share"):
            assert row[key] is not None, (name, key)
        assert set(row["conditional_fidelity_per_class"]) == set(results["study"]["class_names"])
        assert "CTR" in row["anatomy_measure"]
    # each recipe sampled with its own settings, as the bundle resolved them
    assert results["runs"]["old_0.05min"]["prediction"] == "epsilon"
    new_train = json.loads((REPO / "bundles" / "medfusion" / "train.json").read_text())
    old_sampling = {"sampler": "ddim", "steps": 50, "eta": 1.0, "guidance_scale": 2.0}  # the earlier guidance
    assert results["runs"]["old_0.05min"]["sampling"] == old_sampling
    assert results["runs"]["new_0.05min"]["prediction"] == new_train["prediction"]
    assert results["runs"]["new_0.05min"]["sampling"]["steps"] == new_train["sample"]["steps"]
    assert len(results["sweeps"]) == 1  # the best run only
    (sweep,) = results["sweeps"].values()
    assert sweep["run"] in results["runs"]
    assert {(r["sampler"], r["eta"], r["steps"]) for r in sweep["rows"]} == {
        (s, e, n) for s, e in [("ddim", 0.0), ("dpmpp_2m", 0.0), ("ddim", 1.0)] for n in (2, 4)}
    for name in ("results.json", "results.md", "time_to_quality.png", "steps.png", "classifier.pt"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "new / old" in capsys.readouterr().out
    assert json.loads((tmp_path / "results.json").read_text())["runs"].keys() == results["runs"].keys()

    # second call: nothing trained nor measured again
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("runs/*/diffusion/final.pt")}
    again = StubExtractor()
    second = script.main(argv, extractor=again)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("runs/*/diffusion/final.pt")} == stamps and len(stamps) == 2
    assert second["runs"] == results["runs"] and second["sweeps"] == results["sweeps"]
    assert again.images_seen == 32  # the real test set only: no run sampled again

    # --sweep-runs: the other run is swept too, the first sweep is kept
    other = next(n for n in results["runs"] if n != sweep["run"])
    third = script.main([*argv, "--sweep-runs", sweep["run"], other], extractor=StubExtractor())
    assert third["sweeps"][sweep["run"]] == sweep and len(third["sweeps"][other]["rows"]) == 6
    assert f"FID against steps: {other}" in (tmp_path / "results.md").read_text()
    with pytest.raises(SystemExit, match="not a run of this study"):
        script.main([*argv, "--sweep-runs", "flow_0.05min"], extractor=StubExtractor())

    # --guidance: the named run scored in full at each scale with its own sampler; resumable point by point
    calls, sample = [], script.sample
    monkeypatch.setattr(script, "sample", lambda *args: calls.append(args[1:5]) or sample(*args))
    fourth = script.main([*argv, "--guidance", "1", "3", "--guidance-runs", "new_0.05min"], extractor=StubExtractor())
    gs = fourth["guidance_sweeps"]["new_0.05min"]
    assert [r["guidance_scale"] for r in gs["rows"]] == [1.0, 3.0]
    own = (new_train["sample"]["sampler"], new_train["sample"]["steps"], new_train["sample"]["eta"])
    assert calls == [(*own, 1.0), (*own, 3.0)]  # the run's own sampler, steps and eta at each scale
    assert (gs["key"]["sampler"], gs["key"]["steps"], gs["key"]["eta"]) == own
    for row in gs["rows"]:
        assert set(row["conditional_fidelity_per_class"]) == set(results["study"]["class_names"])
        assert row["fid"] is not None and 0 <= row["conditional_fidelity"] <= 1
    assert (tmp_path / "guidance.png").stat().st_size > 0
    assert "Guidance: new_0.05min" in (tmp_path / "results.md").read_text()
    seen, calls[:] = StubExtractor(), []
    fifth = script.main([*argv, "--guidance", "1", "3", "--guidance-runs", "new_0.05min"], extractor=seen)
    assert fifth["guidance_sweeps"] == fourth["guidance_sweeps"] and seen.images_seen == 32 and calls == []
    with pytest.raises(SystemExit, match="--guidance-runs: 'flow_0.05min' is not a run"):
        script.main([*argv, "--guidance", "2", "--guidance-runs", "flow_0.05min"], extractor=StubExtractor())
    # --guidance-sampler: another sampler for the same run, kept beside the run's own sweep
    calls[:] = []
    sixth = script.main([*argv, "--guidance", "2", "--guidance-runs", "new_0.05min", "--guidance-sampler", "ddim:3:1"],
                        extractor=StubExtractor())
    assert calls == [("ddim", 3, 1.0, 2.0)]
    assert sixth["guidance_sweeps"]["new_0.05min"] == fourth["guidance_sweeps"]["new_0.05min"]
    other_sampler = sixth["guidance_sweeps"]["new_0.05min @ ddim:3:1"]
    assert other_sampler["run"] == "new_0.05min" and other_sampler["key"]["eta"] == 1.0
    assert "Guidance: new_0.05min (ddim eta 1 3 steps)" in (tmp_path / "results.md").read_text()
    assert script.parse_sampler_setting("euler:10") == {"sampler": "euler", "steps": 10, "eta": 0.0}
    for bad in ("ddim", "ddim:x:1", "ddim:5:1:2"):
        with pytest.raises(argparse.ArgumentTypeError, match="SAMPLER:STEPS"):
            script.parse_sampler_setting(bad)

    # the study's seed convention (library): image i of class c from seed + 1_000_000 c + i, whatever the batch
    from monai_synth.engines.medfusion import load_medfusion
    from monai_synth.engines.medfusion.pipeline import MedfusionPipeline

    pipeline = MedfusionPipeline(load_medfusion(tmp_path / "runs" / "new_0.05min"), "ddim", 2, 0.0, 2.0)
    images, labels = pipeline.per_class(3, seed=7, batch_size=2)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    torch.testing.assert_close(images, pipeline.per_class(3, seed=7, batch_size=50)[0], rtol=0, atol=1e-4)
    torch.testing.assert_close(images[4:], pipeline(torch.tensor([1, 1]), seed=7 + 1_000_000, first_index=1),
                               rtol=0, atol=1e-4)


def test_sweep_samplers_keeps_the_chosen_ones_that_fit_the_objective(quality_script) -> None:
    script = quality_script("time_to_quality")
    args = script.parse_args(["--sweep-samplers", "ddim:1", "ddim", "euler:0"])
    assert args.sweep_samplers == [("ddim", 1.0), ("ddim", 0.0), ("euler", 0.0)]
    assert script.sweep_samplers("v", args.sweep_samplers) == [("ddim", 0.0), ("ddim", 1.0)]
    assert script.sweep_samplers("velocity", args.sweep_samplers) == [("euler", 0.0)]
    assert script.sweep_samplers("epsilon", None) == script.SWEEP_SAMPLERS["epsilon"]
    with pytest.raises(SystemExit, match="none of ddim:1 samples a 'edm' model"):
        script.sweep_samplers("edm", [("ddim", 1.0)])
    with pytest.raises(SystemExit):  # argparse: not a number after the colon
        script.parse_args(["--sweep-samplers", "ddim:x"])


def test_preset_recipes_layer_their_preset_over_train_json(tmp_path: Path, quality_script) -> None:
    import ast

    from monai_synth.bundle_overrides import check_overrides, override_ids

    script = quality_script("time_to_quality")
    args = script.parse_args(["--data", "", "--override", "noise_schedule#sigma_data=0.5"])
    cmd = script.train_command("edm", 10, tmp_path / "run", args)
    files = ast.literal_eval(cmd[cmd.index("--config_file") + 1])
    assert files == [str(script.TRAIN_JSON), str(REPO / "configs" / "presets" / "edm.json")]
    assert "--preset" not in cmd and cmd[cmd.index("--noise_schedule#sigma_data") + 1] == "0.5"
    check_overrides(override_ids(cmd[1:]), files)  # the bundle accepts every override of the command
    plain = script.train_command("new", 10, tmp_path / "run", script.parse_args(["--data", ""]))
    assert plain[plain.index("--config_file") + 1] == str(script.TRAIN_JSON)
