"""Medfusion sampling: each image depends on its own seed only, also with stochastic samplers."""

from __future__ import annotations

import pytest
import torch

from monai_synth.diffusion import make_schedule
from monai_synth.engines.medfusion.sampling import generate_images
from monai.networks.nets import DiffusionModelUNet
from monai_synth.networks.medfusion_vae import LatentImageAutoencoder


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    vae = LatentImageAutoencoder(in_channels=1, latent_channels=2, channels=[8, 16], norm_num_groups=8).eval()
    unet = DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=[16, 32], attention_levels=[False, False],
                              num_res_blocks=1, norm_num_groups=8, num_class_embeds=3).eval()
    return vae, unet, make_schedule(num_steps=20, kind="linear", beta_start=1e-3, beta_end=0.2)


def _generate(nets, labels, first_index, **kw):
    vae, unet, schedule = nets
    return generate_images(vae, unet, schedule, torch.tensor(labels), (2, 8, 8), 1.0, 2, steps=5, seed=3,
                           first_index=first_index, **kw)


@pytest.mark.parametrize("sampler,eta", [("ddim", 1.0), ("ddim", 0.0), ("ddpm", 0.0), ("dpmpp_2m", 0.0)])
def test_image_independent_of_batch(nets, sampler, eta):
    batch = _generate(nets, [0, 1, 1], 0, sampler=sampler, eta=eta, guidance_scale=2.0)
    alone = _generate(nets, [1], 2, sampler=sampler, eta=eta, guidance_scale=2.0)
    assert batch.shape == (3, 1, 16, 16)
    torch.testing.assert_close(batch[2:], alone, atol=1e-5, rtol=0)


def test_stochastic_sampler_differs_from_deterministic(nets):
    stochastic = _generate(nets, [0, 1], 0, sampler="ddim", eta=1.0)
    deterministic = _generate(nets, [0, 1], 0, sampler="ddim", eta=0.0)
    assert (stochastic - deterministic).abs().max() > 1e-3
    torch.testing.assert_close(stochastic, _generate(nets, [0, 1], 0, sampler="ddim", eta=1.0))


def test_clip_latents_changes_nothing_when_loose_and_bounds_when_tight(nets):
    loose = _generate(nets, [0, 1], 0, sampler="ddim", clip_latents=1e6)
    torch.testing.assert_close(loose, _generate(nets, [0, 1], 0, sampler="ddim"))
    tight = _generate(nets, [0, 1], 0, sampler="ddim", clip_latents=1e-3)
    assert (tight - loose).abs().max() > 1e-4


def test_step_noise_is_not_the_starting_noise():
    from monai_synth.engines.medfusion.sampling import noise_for_indices, step_noise_generators

    start = noise_for_indices([0, 1, 2], (2, 4, 4), 7, torch.device("cpu"))
    step = torch.stack([torch.randn((2, 4, 4), generator=g) for g in step_noise_generators([0, 1, 2], 7)])
    assert abs(float((start * step).mean())) < 0.2  # independent draws, not a replay
    again = torch.stack([torch.randn((2, 4, 4), generator=g) for g in step_noise_generators([0, 1, 2], 7)])
    torch.testing.assert_close(step, again)
