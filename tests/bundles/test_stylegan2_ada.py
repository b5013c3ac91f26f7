"""The stylegan2_ada bundle: one tiny iteration of train.json on the phantom, then sample.json, in-process."""

from __future__ import annotations

import json
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
    "batch_size": 4, "phantom_count": 4, "epochs": 1, "device": "cpu", "log_every": 1,
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


@pytest.mark.parametrize("name", ["train.json", "sample.json"])
def test_configs_use_full_dotted_targets(name: str) -> None:
    config = json.loads((BUNDLE / name).read_text())
    targets = _targets(config)
    assert targets and all(t.split(".")[0] in {"monai", "monai_synth", "torch"} and "." in t for t in targets)
    assert config["run"] and all(r.startswith("$@") for r in config["run"])


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
    assert state["trainer"]["iteration"] == 1 and state["generator_config"]["num_classes"] == 2  # phantom labels
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
