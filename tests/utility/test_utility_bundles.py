"""``bundles/<model>/utility.json`` runs once on a tiny trained run of each generator (phantom data, 16 px);
its defaults are the library's; the pool of a run folder equals that of its exported bundle and is reused.
``bundles/med_cdiff/utility.json`` (the segmentation study) runs the same way on a tiny Med-cDiff run."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bundles"))

import tiny_runs  # noqa: E402

from monai_synth.cli import main  # noqa: E402
from monai_synth.utility.segmentation_study import SegmentationUtilityStudy  # noqa: E402
from monai_synth.utility.study import UtilityStudy  # noqa: E402
from monai_synth.utility.generators import default_sampling  # noqa: E402

KINDS = ("medfusion", "stylegan2_ada")
TINY = {"networks": ["monai_classifier"], "real_fractions": [0.5], "synthetic_multiples": [1.0], "seeds": [0],
        "train_steps": 2, "batch_size": 8, "num_bootstrap": 20, "phantom_count": 8, "device": "cpu"}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("utility_runs")
    return {"medfusion": tiny_runs.train_medfusion(root / "medfusion"),
            "stylegan2_ada": tiny_runs.train_stylegan2(root / "stylegan2_ada")}


def _config(kind: str) -> dict:
    return json.loads((tiny_runs.BUNDLES / kind / "utility.json").read_text())


def _assert_config_defaults_are_the_study_defaults(config: dict, study: type) -> None:
    """Every key the config passes to ``study`` exists there, and the config's value is the signature default."""
    params = inspect.signature(study.__init__).parameters
    for key, value in config["utility"].items():
        if key == "_target_":
            continue
        assert value.startswith("@") and key in params, key
        default = params[key].default
        if default is inspect.Parameter.empty or key in ("device", "sampling"):
            continue
        given = config[value[1:]]
        assert (list(default) if isinstance(default, tuple) else default) == given, key


@pytest.mark.parametrize("kind", KINDS)
def test_config_defaults_are_the_library_defaults(kind: str) -> None:
    config = _config(kind)
    _assert_config_defaults_are_the_study_defaults(config, UtilityStudy)
    assert config["sampling"] == default_sampling(kind)  # read from the config itself
    assert config["vgg_width"] == 0.125  # CPU-sized; docs/utility.md gives --vgg_width 1.0 for a GPU


@pytest.mark.parametrize("kind", KINDS)
def test_utility_config_runs_on_a_tiny_run(kind: str, runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "utility"
    overrides = {**TINY, "sampling#steps": 2} if kind == "medfusion" else TINY
    run(config_file=str(tiny_runs.BUNDLES / kind / "utility.json"), checkpoint_dir=str(runs[kind]),
        output_dir=str(out), **overrides)  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] and metrics["synthetic_kind"] == kind and (out / "report.html").is_file()
    assert metrics["n_real_test"] == 8 and metrics["synthetic_per_class"] == [4, 4]  # 1x the real training split
    assert set(metrics["trtr_vs_tstr"]) == {"monai_classifier"}
    assert metrics["conditional_fidelity"]["monai_classifier"]["n"] == 8
    records = [json.loads(line) for line in (out / "synthetic" / "manifest.jsonl").read_text().splitlines()]
    assert len(records) == 8 and {r["model"] for r in records} == {kind} and all(r["synthetic"] for r in records)
    assert sorted(r["condition"]["class_label"] for r in records) == [0] * 4 + [1] * 4


def test_run_folder_and_exported_bundle_give_the_same_pool_which_is_reused(runs: dict[str, Path],
                                                                          tmp_path: Path) -> None:  # fmt: skip
    settings = {**TINY, "sampling": {"steps": 2}, "progress": False}
    folder = UtilityStudy(runs["medfusion"], "", tmp_path / "a", **settings)
    folder.run()
    UtilityStudy(runs["medfusion"] / "bundle", "", tmp_path / "b", **settings).run()
    pixels_a, pixels_b = tiny_runs.pixels(tmp_path / "a" / "synthetic"), tiny_runs.pixels(tmp_path / "b" / "synthetic")
    assert pixels_a.keys() == pixels_b.keys() and all((pixels_a[k] == pixels_b[k]).all() for k in pixels_a)

    stamp = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a" / "synthetic").glob("*.png")}
    UtilityStudy(runs["medfusion"], "", tmp_path / "a", **settings).run()  # rerun: nothing generated again
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a" / "synthetic").glob("*.png")} == stamp
    other = {**settings, "sampling": {"steps": 3}}
    UtilityStudy(runs["medfusion"], "", tmp_path / "a", **other).run()  # other sampling: a new pool
    pool = json.loads((tmp_path / "a" / "synthetic" / "pool.json").read_text())
    assert pool["sampling"]["steps"] == 3
    own = json.loads((runs["medfusion"] / "metrics.json").read_text())["sampler"]  # utility.json leaves it to the run
    assert (pool["sampling"]["sampler"], pool["sampling"]["eta"], pool["sampling"]["guidance_scale"]) == (
        own["sampler"], own["eta"], own["guidance_scale"])
    assert len((tmp_path / "a" / "synthetic" / "manifest.jsonl").read_text().splitlines()) == 8


def test_stylegan2_checkpoints_folder_is_a_generator_too(runs: dict[str, Path], tmp_path: Path) -> None:
    metrics = UtilityStudy(runs["stylegan2_ada"] / "checkpoints", "", tmp_path / "u", **TINY, progress=False).run()
    assert metrics["synthetic_kind"] == "stylegan2_ada"


# ------------------------------------------------------------------------------------------------ Med-cDiff


def test_med_cdiff_config_defaults_are_the_segmentation_study_defaults() -> None:
    config = _config("med_cdiff")
    assert config["utility"]["_target_"] == "monai_synth.utility.segmentation_study.SegmentationUtilityStudy"
    _assert_config_defaults_are_the_study_defaults(config, SegmentationUtilityStudy)
    assert config["sampling"] == default_sampling("med_cdiff")  # read from the config itself
    evaluate = json.loads((tiny_runs.BUNDLES / "med_cdiff" / "evaluate.json").read_text())
    assert config["sampling"] == {k: evaluate[k] for k in ("sampler", "steps", "eta", "strength")}


@pytest.fixture(scope="module")
def med_cdiff_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return tiny_runs.train_med_cdiff(tmp_path_factory.mktemp("utility_med_cdiff") / "run", "diffusion")


SEGMENTATION_TINY = {"seeds": [0], "epochs": 1, "phantom_count": 4, "num_bootstrap": 20, "gallery": 2,
                     "sampling#steps": 2, "device": "cpu", "progress": False}  # fmt: skip


def test_med_cdiff_utility_config_runs_on_a_tiny_run(med_cdiff_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "utility"
    run(config_file=str(tiny_runs.BUNDLES / "med_cdiff" / "utility.json"), checkpoint_dir=str(med_cdiff_run),
        output_dir=str(out), **SEGMENTATION_TINY)  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] and metrics["utility"] == "segmentation" and (out / "report.html").is_file()
    assert metrics["n_real_train"] == 4 and metrics["n_real_test"] == 4 and metrics["image_size"] == 16
    assert set(metrics["settings"]) == {"real", "restored", "degraded"}
    assert metrics["study"]["task"] == "sr" and metrics["study"]["sampling"]["steps"] == 2

    bundle = tmp_path / "from_bundle"  # the exported bundle restores the same images
    run(config_file=str(tiny_runs.BUNDLES / "med_cdiff" / "utility.json"),
        checkpoint_dir=str(med_cdiff_run / "bundle_diffusion"), output_dir=str(bundle), **SEGMENTATION_TINY)
    with np.load(out / "restored" / "restored.npz") as a, np.load(bundle / "restored" / "restored.npz") as b:
        assert np.array_equal(a["train_restored"], b["train_restored"])


def test_cli_on_a_med_cdiff_run_folder_runs_the_segmentation_study(med_cdiff_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    argv = ["utility", str(med_cdiff_run), "--real", "", "--out", str(out), "--seeds", "0", "--epochs", "1",
            "--phantom-count", "4", "--sampling-steps", "2", "--bootstrap", "20", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["utility"] == "segmentation" and metrics["restorer"] == str(med_cdiff_run)
    assert metrics["study"]["restorer"].startswith("Med-cDiff diffusion, sr")
