"""Rectified flow in both diffusion models, selected by the schedule alone (``kind="rectified_flow"``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from monai_synth.diffusion import make_schedule
from monai.networks.nets import DiffusionModelUNet
from monai_synth.engines.batch_source import SeededBatches
from monai_synth.engines.medfusion.sampling import generate_images
from monai_synth.engines.medfusion.steps import LatentDiffusionStep
from monai_synth.handlers.ema import WeightEMA
from monai_synth.networks.medfusion_vae import LatentImageAutoencoder

FLOW = {"num_steps": 100, "kind": "rectified_flow", "sample_method": "logit-normal"}


def _engine(iteration: int) -> SimpleNamespace:
    return SimpleNamespace(state=SimpleNamespace(iteration=iteration))


def _train_latent_model(iterations: int = 4, min_snr_gamma: float | None = None):
    torch.manual_seed(0)
    unet = DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=[8, 16], attention_levels=[False, False],
                              num_res_blocks=1, norm_num_groups=8, num_head_channels=8, num_class_embeds=4)
    ema = WeightEMA(unet, 0.9)
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    mu, sigma = torch.randn(12, 2, 8, 8, generator=g), torch.rand(12, 2, 8, 8, generator=g) * 0.1
    step = LatentDiffusionStep(unet, opt, ema, make_schedule(**FLOW), 1.0, 0.5, 3, "velocity", min_snr_gamma=min_snr_gamma)
    batches = SeededBatches({"mu": mu, "sigma": sigma, "label": torch.arange(12) % 3}, 4, 7)
    losses = [step(_engine(i), batches(i - 1))["loss"] for i in range(1, iterations + 1)]
    return unet.eval(), losses


@pytest.fixture(scope="module")
def trained():
    return _train_latent_model()


def test_latent_flow_training_is_deterministic(trained):
    unet, losses = trained
    again, losses_again = _train_latent_model()
    assert losses == losses_again and all(torch.isfinite(torch.tensor(losses)))
    for a, b in zip(unet.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    _, weighted = _train_latent_model(2, min_snr_gamma=5.0)
    assert weighted[0] != losses[0] and all(torch.isfinite(torch.tensor(weighted)))


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_latent_flow_sampling_is_deterministic_and_per_image(trained, sampler):
    unet, _ = trained
    torch.manual_seed(0)
    vae = LatentImageAutoencoder(in_channels=1, latent_channels=2, channels=[8, 16], norm_num_groups=8).eval()

    def generate(labels, first_index):
        return generate_images(vae, unet, make_schedule(**FLOW), torch.tensor(labels), (2, 8, 8), 1.0, 3,
                               sampler=sampler, steps=4, guidance_scale=2.0, seed=3, first_index=first_index,
                               prediction="velocity")

    batch = generate([0, 1, 2], 0)
    assert batch.shape == (3, 1, 16, 16) and float(batch.abs().max()) <= 1.0
    torch.testing.assert_close(batch, generate([0, 1, 2], 0), rtol=0, atol=0)
    torch.testing.assert_close(batch[2:], generate([2], 2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("sampler,prediction,match", [("ddim", "velocity", "euler"), ("euler", "epsilon", "velocity")])
def test_latent_flow_refuses_a_sampler_or_prediction_of_the_other_kind(trained, sampler, prediction, match):
    vae = LatentImageAutoencoder(in_channels=1, latent_channels=2, channels=[8, 16], norm_num_groups=8).eval()
    with pytest.raises(ValueError, match=match):
        generate_images(vae, trained[0], make_schedule(**FLOW), torch.tensor([0]), (2, 8, 8), 1.0, 3, sampler=sampler,
                        steps=4, prediction=prediction)


def test_medfusion_step_refuses_epsilon_with_a_flow_schedule():
    unet = DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=[8, 16], attention_levels=[False, False],
                              num_res_blocks=1, norm_num_groups=8, num_head_channels=8, num_class_embeds=4)
    with pytest.raises(ValueError, match="velocity"):
        LatentDiffusionStep(unet, None, None, make_schedule(**FLOW), 1.0, 0.5, 3, "epsilon")


def _cdiff_losses() -> list[float]:
    from monai_synth.engines.med_cdiff.steps import ConditionalDiffusionStep, RestorationBatches
    from monai_synth.transforms.degradation import make_degradation

    torch.manual_seed(0)
    unet = DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=1, channels=[8, 16], attention_levels=[False, False],
                              num_res_blocks=1, norm_num_groups=8, num_head_channels=8)
    images = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    batches = RestorationBatches(images, make_degradation("denoise", {}), 2, 3)
    opt = torch.optim.Adam(unet.parameters(), 1e-3)
    step = ConditionalDiffusionStep(unet, opt, None, make_schedule(**FLOW))
    assert step.loss.prediction == "velocity"
    return [step(_engine(i), batches(i - 1))["loss"] for i in range(1, 4)]


def test_med_cdiff_flow_step_is_deterministic():
    losses = _cdiff_losses()
    assert losses == _cdiff_losses() and all(torch.isfinite(torch.tensor(losses)))


class _RecordingNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.clone(), t.clone()))
        return torch.zeros_like(x[:, :1])


@pytest.mark.parametrize("sampler,strength,calls", [("euler", 1.0, 5), ("euler", 0.35, 5), ("heun", 0.35, 9)])
def test_restorer_flow_starts_at_strength_times_T(sampler, strength, calls):
    from monai_synth.engines.med_cdiff.restorer import Restorer, noise_from_seeds

    net, schedule = _RecordingNet(), make_schedule(**FLOW)
    state = {"model": "diffusion", "task": "denoise", "degradation": {}, "image_size": 8, "channels": 1}
    r = Restorer(net, state, "0" * 64, schedule, sampler, steps=5, eta=0.0, strength=strength)
    cond = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    r(cond, [3, 4])
    x_first, t_first = net.calls[0]
    assert t_first.tolist() == [strength * 100] * 2 and len(net.calls) == calls
    noise = noise_from_seeds([3, 4], (1, 8, 8), torch.device("cpu"))
    want = noise if strength == 1.0 else schedule.add_noise(cond, noise, strength * 100)
    torch.testing.assert_close(x_first[:, :1], want)
    with pytest.raises(ValueError, match="euler"):
        Restorer(net, state, "0" * 64, schedule, "ddim", 5, 0.0)
