"""SIGKILL at an iteration of a phase, run the same command again: the weights equal an uninterrupted run's.

The killed run is a child process (``kill_harness.py``) killed by ``SIGKILL`` after that iteration's
handlers, as a power cut or the OOM killer would; the resumed and the reference runs use ``monai.bundle.run``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import run

REPO = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("kill_harness.py")

MEDFUSION = {
    "image_size": 16, "phantom_count": 16, "batch_size": 4, "autoencoder_batch_size": 4, "autoencoder_epochs": 2,
    "diffusion_epochs": 2, "adversarial_start_epoch": 0, "precision": "fp32", "autoencoder_precision": "bf16",
    "channels_last": True, "autoencoder_def#channels": [8, 16], "autoencoder_def#norm_num_groups": 8,
    "autoencoder_def#latent_channels": 2, "discriminator_def#channels": 8, "unet_def#channels": [16, 32],
    "unet_def#attention_levels": [False, True], "unet_def#norm_num_groups": 8, "unet_def#num_head_channels": 8,
    "noise_schedule#num_steps": 20, "sample#steps": 2, "sample#per_class": 1, "checkpoint_every": 2,
    "log_every": 1, "device": "cpu", "evaluation#interval": 0,
}  # fmt: skip
MED_CDIFF = {
    "image_size": 16, "phantom_count": 16, "batch_size": 4, "epochs": 2, "precision": "fp32", "channels_last": True,
    "device": "cpu", "factors": [2.0], "models#diffusion#unet_def#channels": [8, 16],
    "models#diffusion#unet_def#attention_levels": [False, False], "models#diffusion#unet_def#norm_num_groups": 8,
    "models#diffusion#unet_def#num_head_channels": 8, "noise_schedule#num_steps": 20, "sample#steps": 2,
    "report_images": 2, "checkpoint_every": 2, "log_every": 1,
}  # fmt: skip
STYLEGAN2 = {
    "image_size": 16, "channel_base": 128, "channel_max": 16, "z_dim": 8, "w_dim": 8, "mapping_layers": 1,
    "batch_size": 4, "phantom_count": 16, "epochs": 2, "device": "cpu", "log_every": 1, "evaluation#interval": 0,
    "checkpoint_every": 2, "r1_interval": 2,
}  # fmt: skip


def _kill(config: Path, engine_index: int, iteration: int, overrides: dict) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(HARNESS), str(config), str(engine_index), str(iteration),
                           json.dumps(overrides)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def _tensors(path: Path, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {f"{k}.{n}": t for k in keys for n, t in state[k].items() if isinstance(t, torch.Tensor)}


def _assert_equal(ref: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> None:
    assert ref.keys() == got.keys()
    worst = max((ref[k].float() - got[k].float()).abs().max().item() for k in ref)
    assert worst == 0.0, f"resumed weights differ from the uninterrupted run by up to {worst:.3g}"


def _kill_then_resume(tmp_path: Path, config: Path, overrides: dict, engine_index: int, iteration: int) -> tuple[Path, Path]:
    torch.set_num_threads(1)
    ref, resumed = tmp_path / "ref", tmp_path / "run"
    run(config_file=str(config), output_dir=str(ref), **overrides)
    _kill(config, engine_index, iteration, {**overrides, "output_dir": str(resumed)})
    run(config_file=str(config), output_dir=str(resumed), **overrides)
    return ref, resumed


def _only_newest_checkpoint(folder: Path, pattern: str = "checkpoint_*.pt") -> None:
    left = sorted(p.name for p in folder.iterdir() if p.match(pattern) or p.name.endswith(".tmp"))
    assert len(left) == 1, f"stale checkpoints left in {folder}: {left}"


@pytest.mark.parametrize("engine_index,iteration", [(2, 5), pytest.param(1, 3, marks=pytest.mark.slow)])
def test_medfusion_sigkill_resume_is_exact(tmp_path, engine_index, iteration):
    """Diffusion phase (2) by default; autoencoder phase (1) in the slow set."""
    ref, got = _kill_then_resume(tmp_path, REPO / "bundles" / "medfusion" / "train.json", MEDFUSION, engine_index, iteration)
    _assert_equal(_tensors(ref / "autoencoder" / "final.pt", ("autoencoder",)),
                  _tensors(got / "autoencoder" / "final.pt", ("autoencoder",)))
    _assert_equal(_tensors(ref / "diffusion" / "final.pt", ("unet", "unet_ema")),
                  _tensors(got / "diffusion" / "final.pt", ("unet", "unet_ema")))
    for phase in ("autoencoder", "diffusion"):
        _only_newest_checkpoint(got / phase)
    metrics = json.loads((got / "metrics.json").read_text())
    assert metrics["diffusion_images_per_second"] > 0


@pytest.mark.slow
def test_med_cdiff_sigkill_resume_is_exact(tmp_path):
    ref, got = _kill_then_resume(tmp_path, REPO / "bundles" / "med_cdiff" / "train.json", MED_CDIFF, 1, 5)
    keys = ("network", "network_ema")
    _assert_equal(_tensors(ref / "diffusion" / "final.pt", keys), _tensors(got / "diffusion" / "final.pt", keys))
    _only_newest_checkpoint(got / "diffusion")


@pytest.mark.slow
def test_stylegan2_sigkill_resume_is_exact(tmp_path):
    """Killed at iteration 7: resumes from checkpoint 6, in the middle of the second epoch (4 batches each)."""
    ref, got = _kill_then_resume(tmp_path, REPO / "bundles" / "stylegan2_ada" / "train.json", STYLEGAN2, 1, 7)
    last = "stylegan2_checkpoint_8.pt"
    keys = ("generator", "generator_ema", "discriminator")
    _assert_equal(_tensors(ref / "checkpoints" / last, keys), _tensors(got / "checkpoints" / last, keys))
