"""The stylegan2_ada bundle: one tiny iteration of train.json on the phantom, then sample.json, in-process."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import run
from monai.utils import set_determinism
from PIL import Image

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "stylegan2_ada"
TINY = {
    "image_size": 16, "channel_base": 128, "channel_max": 16, "z_dim": 8, "w_dim": 8, "mapping_layers": 1,
    "batch_size": 4, "phantom_count": 4, "epochs": 1, "device": "cpu", "log_every": 1, "evaluation#interval": 0,
}  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    set_determinism(seed=None)


def _targets(node: object) -> list[str]:
    if isinstance(node, dict):
        return ([node["_target_"]] if "_target_" in node else []) + [t for v in node.values() for t in _targets(v)]
    return [t for v in node for t in _targets(v)] if isinstance(node, list) else []


@pytest.mark.parametrize("name", ["train.json", "sample.json", "multi_gpu_train.json"])
def test_configs_use_full_dotted_targets(name: str) -> None:
    config = json.loads((BUNDLE / name).read_text())
    targets = _targets(config)
    assert targets and all(t.split(".")[0] in {"monai", "monai_synth", "torch"} and "." in t for t in targets)
    assert "run" not in config or all(r.startswith("$@") for r in config["run"])


def test_metadata_is_complete() -> None:
    meta = json.loads((BUNDLE / "metadata.json").read_text())
    schema = json.loads((BUNDLE.parents[1] / "monai_synth" / "schemas" / "bundle_meta_schema.json").read_text())
    assert set(schema.get("required", [])) <= meta.keys()


def test_train_then_sample_one_tiny_iteration(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(config_file=str(BUNDLE / "train.json"), meta_file=str(BUNDLE / "metadata.json"), output_dir=str(out), **TINY)
    checkpoints = list((out / "checkpoints").glob("stylegan2_checkpoint_*.pt"))
    assert [c.name for c in checkpoints] == ["stylegan2_checkpoint_1.pt"]
    state = torch.load(checkpoints[0], weights_only=True)
    assert state["engine"]["iteration"] == 1 and state["generator_config"]["num_classes"] == 2  # phantom labels
    for k in (0, 1):  # one grid per phantom class
        assert np.asarray(Image.open(out / f"samples_class{k}.png")).shape == (4 * 16 + 6, 8 * 16 + 14)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))

    samples = tmp_path / "samples"
    run(
        config_file=str(BUNDLE / "sample.json"),
        meta_file=str(BUNDLE / "metadata.json"),
        checkpoint_dir=str(out / "checkpoints"),
        output_dir=str(samples),
        num_samples=3,
        class_label=1,
        truncation_psi=0.7,
        device="cpu",
    )
    assert sorted(p.name for p in samples.glob("*.png")) == [f"stylegan2_00000{i}.png" for i in range(3)]
    lines = (samples / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["condition"] == {"class_label": 1}


def _tensorboard_tags(folder: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for events in folder.glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    return tags


def test_evaluation_logs_fidelity_and_keeps_best_fid(tmp_path: Path) -> None:
    """interval 1, 8 samples: FID/KID/precision/recall per epoch in metrics.json and TensorBoard; best_fid.pt."""
    out = tmp_path / "run"
    settings = {**TINY, "epochs": 2, "evaluation#interval": 1, "evaluation#num_samples": 8, "evaluation#batch_size": 8}
    run(config_file=str(BUNDLE / "train.json"), output_dir=str(out), **settings)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["fidelity"]] == [1, 2]
    for point in metrics["fidelity"]:
        assert math.isfinite(point["fid"]) and math.isfinite(point["kid_mean"])
        assert 0 <= point["precision"] <= 1 and 0 <= point["recall"] <= 1
    assert metrics["fidelity_at_end_of_training"]["iteration"] == metrics["iterations"] == 2
    assert metrics["train_seconds"] > 0 and metrics["kimg"] == pytest.approx(0.008)
    best = torch.load(out / "best_fid.pt", weights_only=True)
    assert best["fid"] == pytest.approx(min(h["fid"] for h in metrics["fidelity"]))
    assert metrics["best_fid"]["fid"] == pytest.approx(best["fid"])
    tags = _tensorboard_tags(out / "tensorboard")
    assert {"fidelity/fid", "fidelity/kid_mean", "fidelity/precision", "fidelity/recall"} <= tags
    samples = tmp_path / "samples"  # sample.json reads the best checkpoint directly
    run(config_file=str(BUNDLE / "sample.json"), checkpoint_dir=str(out / "best_fid.pt"), output_dir=str(samples),
        num_samples=2, device="cpu")  # fmt: skip
    assert len(list(samples.glob("*.png"))) == 2


def test_multi_gpu_override_two_processes_gloo(tmp_path: Path) -> None:
    """torchrun with 2 CPU processes (gloo): averaged gradients, sharded data, rank-0-only writing."""
    overrides: list[str] = []
    for key, value in {**TINY, "phantom_count": 16, "checkpoint_every": 100}.items():
        overrides += [f"--{key}", json.dumps(value) if not isinstance(value, str) else value]
    configs = f"['{BUNDLE / 'train.json'}','{BUNDLE / 'multi_gpu_train.json'}']"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
           "-m", "monai.bundle", "run", "--config_file", configs, "--output_dir", str(tmp_path),
           *overrides]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=BUNDLE.parents[1], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["batch_size"] == 8
    assert metrics["iterations"] == 2 and metrics["kimg"] == pytest.approx(0.016)  # 16 images / (2 x 4) per epoch
    assert [c.name for c in (tmp_path / "checkpoints").glob("*.pt")] == ["stylegan2_checkpoint_2.pt"]
    assert len(list((tmp_path / "tensorboard").glob("events.*"))) == 1  # rank 0 only
    assert (tmp_path / "samples_class0.png").is_file()


def test_tracking_mlflow_records_the_run(tmp_path):
    """``--tracking mlflow`` with MLflow itself: settings as parameters, losses per epoch, sample grids as artifacts."""
    from mlflow_store import artifact_names, metric_steps, recorded_runs, tracking_overrides

    run(config_file=str(BUNDLE / "train.json"), output_dir=str(tmp_path / "run"), **TINY, **tracking_overrides(tmp_path))
    runs = recorded_runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.params["num_classes"] == "2"
    assert metric_steps(tmp_path, runs[0], "stylegan2/loss_g") == [1]
    assert {"samples_class0.png", "samples_class1.png"} <= artifact_names(tmp_path, runs[0])
