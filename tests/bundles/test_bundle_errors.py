"""``python -m monai.bundle run`` failures start with one line naming the problem; unknown overrides are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monai_synth.bundle_errors import summary
from monai_synth.bundle_overrides import UnknownOverrideError, check_overrides, config_ids, override_ids

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "bundles" / "medfusion" / "sample.json"


def _bundle_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", str(SAMPLE), *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _first_error_line(stderr: str) -> tuple[int, str]:
    lines = stderr.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    traceback = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), len(lines))
    assert index < traceback, stderr[-3000:]
    return index, lines[index]


def test_misspelt_override_is_refused_with_the_nearest_key(tmp_path):
    proc = _bundle_run("--num_sampels", "3", "--output_dir", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode != 0
    _, line = _first_error_line(proc.stderr)
    assert "unknown override --num_sampels (did you mean --num_samples?)" in line and "sample.json" in line
    assert not (tmp_path / "out").exists()


def test_error_inside_the_run_step_is_named_first(tmp_path):
    missing = tmp_path / "no_run"
    proc = _bundle_run("--checkpoint_dir", str(missing), "--output_dir", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode != 0
    _, line = _first_error_line(proc.stderr)
    assert f"{missing}/autoencoder/final.pt: no trained model here" in line
    assert "Failed to evaluate ConfigExpression" not in line.split("(in ")[0]


def test_override_parsing_and_nested_ids():
    argv = ["/x/monai/bundle/__main__.py", "run", "--config_file", "a.json", "--unet#channels", "[1]", "--seed=3"]
    assert override_ids(argv) == {"config_file": "a.json", "unet#channels": "[1]", "seed": "3"}
    assert config_ids({"a": {"b": [1, {"c": 2}]}}) == {"a", "a#b", "a#b#0", "a#b#1", "a#b#1#c"}
    check_overrides(["seed", "num_samples", "config_file"], [SAMPLE])
    with pytest.raises(UnknownOverrideError, match="--sead .did you mean --seed"):
        check_overrides(["sead"], [SAMPLE])


def test_summary_skips_monai_wrappers():
    try:
        try:
            raise FileNotFoundError("run/final.pt: no trained model here")
        except FileNotFoundError as inner:
            raise RuntimeError('Failed to evaluate ConfigExpression: \n"$@train#trainer.run()"') from inner
    except RuntimeError as outer:
        line = summary(outer)
    assert line.startswith("error: FileNotFoundError: run/final.pt: no trained model here")
    assert '(in "$@train#trainer.run()")' in line
