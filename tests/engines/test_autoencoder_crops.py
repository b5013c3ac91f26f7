"""The autoencoder phase can train on random crops: seeded, true sub-windows, checked sizes, wired in train.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import run

from monai_synth.engines.medfusion import load_medfusion
from monai_synth.engines.medfusion.steps import AutoencoderStep, random_crops
from monai_synth.losses.autoencoder import AutoencoderReconstructionLoss
from monai_synth.networks.medfusion_vae import LatentImageAutoencoder

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "bundles"))

from tiny_runs import MEDFUSION  # noqa: E402


def _images(b=4, h=12, w=10):
    return torch.arange(b * 2 * h * w, dtype=torch.float32).reshape(b, 2, h, w)


def _offset(image: torch.Tensor, crop: torch.Tensor) -> tuple[int, int]:
    """Where ``crop`` sits in ``image`` (every value of the test images is unique)."""
    top, left = (image[0] == crop[0, 0, 0]).nonzero()[0].tolist()
    return top, left


def test_crops_are_sub_windows_of_their_own_image():
    x = _images()
    out = random_crops(x, 4, torch.Generator().manual_seed(3))
    assert out.shape == (4, 2, 4, 4)
    offsets = []
    for i in range(4):
        top, left = _offset(x[i], out[i])
        assert torch.equal(out[i], x[i, :, top : top + 4, left : left + 4])
        offsets.append((top, left))
    assert len(set(offsets)) > 1  # each image draws its own window


def test_crops_repeat_with_the_generator_and_change_with_its_seed():
    x = _images()
    a = random_crops(x, 4, torch.Generator().manual_seed(0))
    assert torch.equal(a, random_crops(x, 4, torch.Generator().manual_seed(0)))
    assert not torch.equal(a, random_crops(x, 4, torch.Generator().manual_seed(1)))


def test_a_crop_no_smaller_than_the_image_keeps_it_whole():
    x = _images(h=8, w=8)
    g = torch.Generator().manual_seed(0)
    assert random_crops(x, 8, g) is x
    assert random_crops(x, 16, g) is x
    assert g.initial_seed() == 0 and torch.equal(torch.rand(1, generator=g),
                                                 torch.rand(1, generator=torch.Generator().manual_seed(0)))


def _step(crop):
    torch.manual_seed(0)
    vae = LatentImageAutoencoder(in_channels=1, latent_channels=2, channels=[8, 16], norm_num_groups=8)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3)
    return vae, AutoencoderStep(vae, None, opt, None, AutoencoderReconstructionLoss(ssim_window=3), crop_size=crop)


class _Engine:
    class state:  # noqa: N801 - the attribute Ignite's engine has
        iteration = 1


def test_the_step_trains_on_crops_drawn_first_from_the_batch_generator():
    vae, step = _step(8)
    seen = []
    vae.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    step(_Engine, {"image": x, "generator": torch.Generator().manual_seed(5)})
    assert len(seen) == 1 and seen[0].shape == (3, 1, 8, 8)
    assert torch.equal(seen[0], random_crops(x, 8, torch.Generator().manual_seed(5)))


@pytest.mark.parametrize("crop", [7, 0, -4])
def test_a_crop_that_does_not_fit_the_compression_is_refused(crop):
    with pytest.raises(ValueError, match="multiple of the autoencoder's compression factor 2"):
        _step(crop)


def test_the_bundle_trains_its_autoencoder_on_crops_and_records_it(tmp_path):
    out = tmp_path / "run"
    run(config_file=str(REPO / "bundles" / "medfusion" / "train.json"), output_dir=str(out),
        **{**MEDFUSION, "autoencoder_crop": 8, "discriminator_def#num_layers_d": 1})  # fmt: skip
    record = json.loads((out / "run_record.json").read_text())
    assert record["settings"]["autoencoder_step#crop_size"] == 8
    assert (out / "samples_grid_synthetic.png").is_file()
    # the autoencoder trained on 8 px crops encodes and decodes whole 16 px images
    vae = load_medfusion(out, "cpu")["vae"]
    with torch.no_grad():
        mu, _ = vae.encode(torch.zeros(2, 1, 16, 16))
        assert vae.decode(mu).shape == (2, 1, 16, 16)
