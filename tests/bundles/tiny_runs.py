"""Tiny training runs of the three bundles through their train.json (one iteration, 16 px), for export tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from monai.bundle import run
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "bundles"
SCHEMA = REPO / ".." / "shared" / "reference" / "meta_schema_20240725.json"

MEDFUSION = {
    "image_size": 16, "phantom_count": 8, "batch_size": 4, "autoencoder_batch_size": 4, "autoencoder_epochs": 1,
    "diffusion_epochs": 1, "adversarial_start_epoch": 0, "precision": "fp32", "autoencoder_precision": "fp32",
    "autoencoder_def#channels": [8, 16], "autoencoder_def#norm_num_groups": 8, "autoencoder_def#latent_channels": 2,
    "discriminator_def#channels": 8, "unet_def#channels": [16, 32], "unet_def#attention_levels": [False, True],
    "unet_def#norm_num_groups": 8, "unet_def#num_head_channels": 8, "noise_schedule#num_steps": 20, "sample#steps": 2,
    "sample#per_class": 2, "checkpoint_every": 1, "log_every": 1, "device": "cpu", "evaluation#interval": 0,
}  # fmt: skip
MED_CDIFF = {
    "image_size": 16, "phantom_count": 4, "batch_size": 4, "epochs": 1, "precision": "fp32", "channels_last": False,
    "device": "cpu", "factors": [2.0], "models#diffusion#unet_def#channels": [8, 16],
    "models#diffusion#unet_def#attention_levels": [False, False], "models#diffusion#unet_def#norm_num_groups": 8,
    "models#diffusion#unet_def#num_head_channels": 8, "models#pix2pix#generator_def#features": 4,
    "models#pix2pix#generator_def#depth": 3, "models#pix2pix#discriminator_def#channels": 4,
    "models#pix2pix#discriminator_def#num_layers_d": 1, "noise_schedule#num_steps": 20, "sample#steps": 2,
    "report_images": 1, "checkpoint_every": 1, "log_every": 1,
}  # fmt: skip
STYLEGAN2 = {
    "image_size": 16, "channel_base": 128, "channel_max": 16, "z_dim": 8, "w_dim": 8, "mapping_layers": 1,
    "batch_size": 4, "phantom_count": 4, "epochs": 1, "device": "cpu", "log_every": 1, "evaluation#interval": 0,
}  # fmt: skip


def bundle_trainer(bundle: str, **overrides):
    """The ``train#trainer`` of ``bundles/<bundle>/train.json`` with overrides (``#`` ids allowed), not run."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "train.json"))
    for key, value in overrides.items():
        parser[key] = value
    return parser.get_parsed_content("train#trainer")


def train_medfusion(out: Path) -> Path:
    run(config_file=str(BUNDLES / "medfusion" / "train.json"), output_dir=str(out), **MEDFUSION)
    return out


def train_med_cdiff(out: Path, model: str) -> Path:
    run(config_file=str(BUNDLES / "med_cdiff" / "train.json"), output_dir=str(out), model=model, **MED_CDIFF)
    return out


def train_stylegan2(out: Path) -> Path:
    run(config_file=str(BUNDLES / "stylegan2_ada" / "train.json"), output_dir=str(out), **STYLEGAN2)
    return out


def phantom_pngs(folder: Path, count: int = 2, size: int = 32) -> Path:
    """``count`` 8-bit phantom radiographs as PNG files (input for restoration)."""
    from monai_synth.data.phantom import make_phantom

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = make_phantom(seed=i, size=size)["image"][0]
        Image.fromarray((np.clip(image, 0, 1) * 255).round().astype(np.uint8)).save(folder / f"case{i}.png")
    return folder


def pixels(folder: Path, pattern: str = "*.png") -> dict[str, np.ndarray]:
    """The images of a folder by name."""
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.rglob(pattern))}


def error_messages(error: BaseException | None) -> str:
    """The messages of an exception and of its causes (MONAI wraps a component's error in its own)."""
    text = ""
    while error is not None:
        text, error = text + str(error) + "\n", error.__cause__ or error.__context__
    return text
