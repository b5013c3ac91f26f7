"""A short run of benchmarks/turing_load.py: concurrent readers lose and duplicate no answer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "turing_load.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("turing_load", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_five_readers_for_three_seconds(tmp_path):
    load = _load_module()
    study_dir = load.make_load_study(tmp_path, readers=5, trials=400)
    result = load.run_load(study_dir, duration=3.0)
    assert result["errors"] == []
    assert result["acknowledged_answers"] > 5 * 10  # every reader got through a fair number
    assert result["stored_rows"] == result["acknowledged_answers"]
    assert result["lost"] == result["duplicates"] == result["unacknowledged_rows"] == 0
    assert result["post"]["count"] > result["acknowledged_answers"]  # the double posts were sent too
