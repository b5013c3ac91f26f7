"""bundles/*/audit.json and ``monai-synth audit`` as the user runs them, on tiny trained runs; the membership
attack on a tiny trained Medfusion model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO
from monai.bundle import ConfigParser, run

from monai_synth.cli import main

MEDFUSION = REPO / "bundles" / "medfusion" / "audit.json"
STYLEGAN2 = REPO / "bundles" / "stylegan2_ada" / "audit.json"
FAST = {"spaces": ["pixel"], "num_samples": 8, "num_bootstrap": 50, "progress": False, "device": "cpu"}


@pytest.mark.parametrize("config", [MEDFUSION, STYLEGAN2])
def test_config_builds_the_audit_with_its_defaults(config: Path) -> None:
    parser = ConfigParser()
    parser.read_config(str(config))
    parser.update({"source": "somewhere", "output_dir": "out"})
    audit = parser.get_parsed_content("audit")
    assert type(audit).__module__ == "monai_synth.privacy.audit" and type(audit).__name__ == "MemorizationAudit"
    assert audit.percentile == 95.0 and audit.spaces == ["pixel", "inception"] and audit.num_bootstrap == 1000
    assert audit.settings()["source"] == "somewhere" and parser.get("result") == "$@evaluator.run()"
    assert isinstance(parser.get("run"), list)
    kind = config.parent.name
    assert audit.membership["enabled"] is (kind == "medfusion")
    assert (audit.train is None) is (kind == "medfusion")  # Medfusion: the dataset its run recorded


def test_medfusion_audit_json_on_a_tiny_run(tiny_medfusion: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "audit"
    run(config_file=str(MEDFUSION), source=str(tiny_medfusion), output_dir=str(out), **FAST,
        **{"sample#steps": 2, "membership#timestep_fractions": [0.1, 0.5]})
    result = json.loads((out / "audit.json").read_text())
    assert result["source_kind"] == "medfusion" and result["n_synthetic"] == 8
    assert result["train"]["n"] == 8 and "phantom (8 images" in result["train"]["source"]  # from run_record.json
    assert "[split test]" in result["holdout"]["source"] and result["holdout"]["n"] == 8
    assert result["grid"] == {"image_size": 16, "channels": 1, "intensity": "auto", "window": None}
    member = result["membership"]
    assert member["n_members"] == 8 and member["n_nonmembers"] == 8 and member["timesteps"] == [2, 10]
    assert 0.0 <= member["auc"] <= 1.0 and len(member["per_timestep"]) == 2
    assert len(list((out / "synthetic").rglob("*.png"))) == 8 and (out / "report.html").is_file()
    assert "memorization found:" in capsys.readouterr().out


def test_stylegan2_audit_json_on_a_tiny_run(tiny_stylegan2: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    run(config_file=str(STYLEGAN2), source=str(tiny_stylegan2), output_dir=str(out), phantom_count=4, **FAST)
    result = json.loads((out / "audit.json").read_text())
    assert result["source_kind"] == "stylegan2_ada" and result["n_synthetic"] == 8 and result["train"]["n"] == 4
    assert result["grid"]["image_size"] == 16 and result["membership"]["skipped"]
    assert next(v for v in result["verdicts"] if v["measure"] == "membership inference")["status"] == "NOT RUN"


def test_cli_on_an_exported_bundle_and_on_a_folder_with_its_model(tiny_medfusion: Path, tmp_path: Path,
                                                                   capsys) -> None:
    bundle = tiny_medfusion / "bundle"
    common = ["--no-inception", "--bootstrap", "20", "--phantom-count", "8", "--device", "cpu"]
    assert main(["audit", str(bundle), "--out", str(tmp_path / "a"), "--train", "", "--num-samples", "4",
                 "--steps", "2", *common]) == 0
    first = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert first["source_kind"] == "medfusion" and first["membership"]["n_members"] == 8
    # the images it sampled, audited as a plain folder, with the model named for the membership attack
    assert main(["audit", str(tmp_path / "a" / "synthetic"), "--model", str(tiny_medfusion), "--out",
                 str(tmp_path / "b"), *common]) == 0
    second = json.loads((tmp_path / "b" / "audit.json").read_text())
    assert second["source_kind"] == "images" and second["n_synthetic"] == 4
    assert second["membership"]["auc"] == pytest.approx(first["membership"]["auc"])  # same model, same seeds
    assert second["spaces"]["pixel"]["copy"] == first["spaces"]["pixel"]["copy"]
    # bundles hold no dataset record: the training set must be named
    assert main(["audit", str(bundle), "--out", str(tmp_path / "c"), "--no-inception"]) == 1
    assert "give the training images" in capsys.readouterr().err


def test_membership_losses_are_fixed_per_image(tiny_medfusion: Path) -> None:
    from monai_synth.engines.medfusion.workflow import load_medfusion
    from monai_synth.privacy.diffusion_loss import MedfusionDenoisingLoss

    model = load_medfusion(tiny_medfusion, "cpu")
    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    labels = torch.tensor([0, 1, 0, 5, -1])  # unknown classes fall back to the unconditional label
    whole = MedfusionDenoisingLoss(model, (0.1, 0.5, 1.0), seed=3, batch_size=5)(images, labels)
    batched = MedfusionDenoisingLoss(model, (0.1, 0.5, 1.0), seed=3, batch_size=2)(images, labels)
    assert whole.shape == (5, 3) and np.allclose(whole, batched, atol=1e-6) and (whole > 0).all()
    other_seed = MedfusionDenoisingLoss(model, (0.1, 0.5, 1.0), seed=4, batch_size=5)(images, labels)
    assert not np.allclose(whole, other_seed)
    assert MedfusionDenoisingLoss(model, (0.1, 0.5, 1.0)).timesteps == [2, 10, 19]



def test_command_line_config_and_class_share_their_defaults() -> None:
    import inspect

    from monai_synth.cli import build_parser
    from monai_synth.privacy.audit import DEFAULT_MEMBERSHIP, DEFAULT_SELF_SUPERVISED, MemorizationAudit
    from monai_synth.privacy.sampling import default_sampling

    config = json.loads(MEDFUSION.read_text())
    args = build_parser().parse_args(["audit", "src", "--out", "o"])
    defaults = {k: p.default for k, p in inspect.signature(MemorizationAudit).parameters.items()}
    for key, cli in (("num_samples", args.num_samples), ("percentile", args.percentile),
                     ("num_bootstrap", args.bootstrap), ("seed", args.seed), ("train_split", args.train_split),
                     ("holdout_split", args.holdout_split)):
        assert config[key] == cli == defaults[key], key
    assert config["membership"] == DEFAULT_MEMBERSHIP and config["self_supervised"] == DEFAULT_SELF_SUPERVISED
    assert config["spaces"] == list(defaults["spaces"]) and config["alpha"] == defaults["alpha"]
    assert default_sampling("medfusion") == config["sample"]  # read from the config itself


@pytest.mark.slow
def test_bundle_command_with_the_inception_network(tiny_medfusion: Path, tmp_path: Path) -> None:
    """`python -m monai.bundle run` as a user types it, with the real Inception features (about a minute)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MONAI_SYNTH_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(MEDFUSION), "--source",
               str(tiny_medfusion), "--output_dir", str(tmp_path / "audit"), "--num_samples", "8", "--sample#steps",
               "2", "--num_bootstrap", "50", "--device", "cpu"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert set(result["spaces"]) == {"pixel", "inception"} and result["membership"]["n_members"] == 8
    assert "memorization found:" in done.stdout
