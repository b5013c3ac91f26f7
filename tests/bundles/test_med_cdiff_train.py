"""bundles/med_cdiff/train.json runs for one tiny iteration with every model and task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from monai.bundle import run

from monai_synth.engines.checkpoint import load_state

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "bundles" / "med_cdiff"

MED_CDIFF_TINY = {
    "image_size": 16,
    "phantom_count": 4,
    "batch_size": 4,
    "epochs": 1,
    "precision": "fp32",
    "channels_last": False,
    "device": "cpu",
    "factors": [2.0, 4.0],
    "models#diffusion#unet_def#channels": [8, 16],
    "models#diffusion#unet_def#attention_levels": [False, False],
    "models#diffusion#unet_def#norm_num_groups": 8,
    "models#diffusion#unet_def#num_head_channels": 8,
    "models#pix2pix#generator_def#features": 4,
    "models#pix2pix#discriminator_def#channels": 4,
    "models#pix2pix#discriminator_def#num_layers_d": 2,
    "models#srgan#generator_def#features": 4,
    "models#srgan#generator_def#num_blocks": 1,
    "models#srgan#discriminator_def#features": 4,
    "models#srgan#discriminator_def#num_stages": 2,
    "models#srgan#discriminator_def#dense": 8,
    "noise_schedule#num_steps": 20,
    "sample#steps": 2,
    "report_images": 2,
    "checkpoint_every": 1,
    "log_every": 1,
}

COMBINATIONS = [("diffusion", "sr"), ("diffusion", "denoise"), ("diffusion", "inpaint"), ("pix2pix", "sr"),
                ("pix2pix", "denoise"), ("pix2pix", "inpaint"), ("srgan", "sr")]


def _train(out: Path, **extra) -> None:
    run(config_file=str(BUNDLE / "train.json"), output_dir=str(out), **{**MED_CDIFF_TINY, **extra})


@pytest.mark.parametrize("model,task", COMBINATIONS)
def test_one_iteration_of_every_model_and_task(tmp_path, model, task):
    _train(tmp_path, model=model, task=task)
    for name in (f"{model}/final.pt", f"{model}_grid.png", f"{model}_metrics.json"):
        assert (tmp_path / name).is_file(), name
    final = load_state(tmp_path / model / "final.pt")
    assert final["model"] == model and final["task"] == task and final["channels"] == 1
    assert ("network_ema" in final) == (model == "diffusion")
    metrics = json.loads((tmp_path / f"{model}_metrics.json").read_text())
    expected = {"sr": {"x2", "x4"}, "denoise": {"noise0.05_sp0.02", "noise0.1_sp0.05", "noise0.2_sp0.1"},
                "inpaint": {"inpaint"}}[task]
    assert set(metrics["settings"]) == expected


def test_models_share_one_output_folder(tmp_path):
    _train(tmp_path, model="pix2pix")
    _train(tmp_path, model="srgan")
    assert (tmp_path / "pix2pix" / "final.pt").is_file() and (tmp_path / "srgan" / "final.pt").is_file()


def test_srgan_with_another_task_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError) as err:  # MONAI wraps errors of config expressions
        _train(tmp_path, model="srgan", task="denoise")
    cause = err.value.__cause__
    assert isinstance(cause, ValueError) and "srgan" in str(cause) and "'sr'" in str(cause)


def test_default_settings_are_the_papers():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "train.json"))
    assert parser.get_parsed_content("noise_schedule").keywords == {"num_steps": 2000, "kind": "linear",
                                                                    "beta_start": 1e-4, "beta_end": 0.02}
    assert [round(f, 2) for f in parser.get_parsed_content("factors")] == [2.83, 4.0, 5.66, 8.0, 11.31, 16.0]
    assert parser["task"] == "sr" and parser["model"] == "diffusion" and parser["output_dir"] == "runs/med_cdiff"
    assert parser["image_size"] <= 64


def test_metadata_verifies_offline():
    from monai.bundle import verify_metadata

    verify_metadata(meta_file=str(BUNDLE / "metadata.json"),
                    filepath=str(REPO / "monai_synth" / "schemas" / "bundle_meta_schema.json"))


@pytest.mark.slow
def test_multi_gpu_override_two_processes_gloo(tmp_path):
    """torchrun with 2 CPU processes (gloo): DDP training, rank-0-only writing."""
    overrides = []
    for k, v in {**MED_CDIFF_TINY, "phantom_count": 8, "model": "pix2pix"}.items():
        overrides += [f"--{k}", json.dumps(v) if not isinstance(v, str) else v]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "monai.bundle", "run", "--config_file",
           f"['{BUNDLE / 'train.json'}','{BUNDLE / 'multi_gpu_train.json'}']", "--output_dir", str(tmp_path), *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "pix2pix" / "final.pt").is_file() and (tmp_path / "pix2pix_metrics.json").is_file()
    assert len(list((tmp_path / "pix2pix" / "tensorboard").glob("events.*"))) == 1  # rank 0 only


def test_tracking_mlflow_records_the_run(tmp_path):
    """``--tracking mlflow`` with MLflow itself: settings as parameters, losses per epoch, loss curves as artifact."""
    from mlflow_store import artifact_names, metric_steps, recorded_runs, tracking_overrides

    _train(tmp_path / "run", model="pix2pix", task="denoise", **tracking_overrides(tmp_path))
    runs = recorded_runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.params["task"] == "denoise" and runs[0].data.params["model"] == "pix2pix"
    assert metric_steps(tmp_path, runs[0], "pix2pix/loss") == [1]
    assert "pix2pix_loss_curves.png" in artifact_names(tmp_path, runs[0])
