"""benchmarks/quality/medfusion_ode_convergence.py on a tiny trained run: the same setting as the reference lands on
it exactly, another one does not, and a flow run is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "bundles"))
import tiny_runs  # noqa: E402


def test_distances_to_the_reference_setting(tmp_path, quality_script):
    script = quality_script("medfusion_ode_convergence")
    run = tiny_runs.train_medfusion(tmp_path / "run")  # a 20-step schedule
    out = tmp_path / "ode.json"
    result = script.main(["--run", str(run), "--reference", "ddim:20:trailing", "--setting", "ddim:20:trailing",
                          "--setting", "dpmpp_2m:4:logsnr", "--per-class", "1", "--json", str(out)])
    same, other = result["rows"][1], result["rows"][2]
    assert result["images"] == 2 and same["rms_max"] == 0.0  # the same setting, seeds and model: the same images
    assert other["setting"] == "dpmpp_2m:4:logsnr" and other["rms_mean"] > 0
    assert json.loads(out.read_text()) == result
    with pytest.raises(Exception, match="SAMPLER:STEPS:SPACING"):
        script.parse_setting("ddim:x")
