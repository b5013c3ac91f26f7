"""bundles/medfusion/evaluate.json: wiring (fast) and a real `python -m monai.bundle run` (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from monai.bundle import ConfigParser
from PIL import Image

CONFIG = REPO / "bundles" / "medfusion" / "evaluate.json"


def test_config_resolves_to_evaluate_with_overrides() -> None:
    parser = ConfigParser()
    parser.read_config(str(CONFIG))
    parser.update({"real": "r.npz", "fake": "samples", "output_dir": "out", "num_bootstrap": 3})
    evaluator = parser.get_parsed_content("scorer")
    assert evaluator.func.__module__ == "monai_synth.metrics.evaluate" and evaluator.func.__name__ == "evaluate"
    assert evaluator.keywords["real"] == "r.npz" and evaluator.keywords["out_dir"] == "out"
    assert evaluator.keywords["num_bootstrap"] == 3 and evaluator.keywords["real_split"] == "test"
    assert isinstance(parser.get("run"), list) and parser.get("metrics") == "$@evaluator.run()"
    assert parser.get_parsed_content("evaluator").params["num_bootstrap"] == 3


@pytest.mark.slow
def test_bundle_run_writes_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "real.npz", test_images=images, test_labels=np.zeros((10, 1), np.uint8))
    (tmp_path / "fake").mkdir()
    for i in range(8):
        Image.fromarray(images[i]).save(tmp_path / "fake" / f"{i}.png")
    env = {**os.environ, "MONAI_SYNTH_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(CONFIG),
               "--real", str(tmp_path / "real.npz"), "--fake", str(tmp_path / "fake"),
               "--output_dir", str(tmp_path / "out"), "--num_bootstrap", "2", "--ms_ssim_pairs", "10"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_real"] == 10 and metrics["n_fake"] == 8 and metrics["fid"] > 0
    assert (tmp_path / "out" / "report.html").is_file()
