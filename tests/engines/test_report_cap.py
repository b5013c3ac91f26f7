"""A report that would sample more than a bounded number of images samples the first classes only, and says so."""

from __future__ import annotations

import json
import time
from pathlib import Path

from monai.bundle import run
from PIL import Image

from monai_synth.engines.report_cap import MAX_REPORT_IMAGES, report_classes

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "image_size": 16, "phantom_count": 8, "batch_size": 4, "autoencoder_batch_size": 4, "autoencoder_epochs": 1,
    "diffusion_epochs": 1, "adversarial_start_epoch": 0, "precision": "fp32", "autoencoder_precision": "fp32",
    "channels_last": False, "autoencoder_def#channels": [8, 16], "autoencoder_def#norm_num_groups": 8,
    "autoencoder_def#latent_channels": 2, "discriminator_def#channels": 8, "unet_def#channels": [16, 32],
    "unet_def#attention_levels": [False, False], "unet_def#norm_num_groups": 8, "unet_def#num_head_channels": 8,
    "noise_schedule#num_steps": 20, "sample#steps": 1, "sample#per_class": 8, "checkpoint_every": 1,
    "log_every": 1, "device": "cpu", "evaluation#interval": 0,
}  # fmt: skip


def test_999_classes_report_is_capped_and_says_so(tmp_path):
    start = time.perf_counter()
    run(config_file=str(REPO / "bundles" / "medfusion" / "train.json"), output_dir=str(tmp_path), num_classes=999,
        **TINY)
    assert time.perf_counter() - start < 60
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    shown = MAX_REPORT_IMAGES // 8
    assert metrics["report_capped"] == (f"report capped at {shown * 8} images: 8 of each of the first {shown} of "
                                        f"999 classes (limit {MAX_REPORT_IMAGES})")
    grid = Image.open(tmp_path / "samples_grid_synthetic.png")
    assert grid.height == shown * (16 + 2) + 2  # one row per sampled class


def test_report_classes_bounds():
    assert report_classes(2, 8) == ([0, 1], None)
    classes, note = report_classes(1000, 1, limit=10)
    assert classes == list(range(10)) and "first 10 of 1000 classes" in note
    assert report_classes(5, 500, limit=10)[0] == [0]  # at least one class
