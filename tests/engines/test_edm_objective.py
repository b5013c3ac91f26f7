"""EDM preconditioning in Medfusion, selected by the schedule alone (``kind="edm"``, prediction ``"edm"``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from monai.bundle import run
from monai.networks.nets import DiffusionModelUNet

from monai_synth.diffusion import make_schedule
from monai_synth.engines.batch_source import SeededBatches
from monai_synth.engines.checkpoint import load_state
from monai_synth.engines.medfusion.sampling import generate_images
from monai_synth.engines.medfusion.steps import LatentDiffusionStep
from monai_synth.handlers.ema import WeightEMA
from monai_synth.networks.medfusion_vae import LatentImageAutoencoder

REPO = Path(__file__).resolve().parents[2]
EDM = {"kind": "edm", "sigma_data": 1.0}


def _engine(iteration: int) -> SimpleNamespace:
    return SimpleNamespace(state=SimpleNamespace(iteration=iteration))


def _unet() -> DiffusionModelUNet:
    return DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=[8, 16],
                              attention_levels=[False, False], num_res_blocks=1, norm_num_groups=8, num_head_channels=8,
                              num_class_embeds=4)


def _train_latent_model(iterations: int = 4):
    torch.manual_seed(0)
    unet = _unet()
    ema = WeightEMA(unet, 0.9)
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    mu, sigma = torch.randn(12, 2, 8, 8, generator=g), torch.rand(12, 2, 8, 8, generator=g) * 0.1
    step = LatentDiffusionStep(unet, opt, ema, make_schedule(**EDM), 1.0, 0.5, 3, "edm")
    batches = SeededBatches({"mu": mu, "sigma": sigma, "label": torch.arange(12) % 3}, 4, 7)
    losses = [step(_engine(i), batches(i - 1))["loss"] for i in range(1, iterations + 1)]
    return unet.eval(), losses


@pytest.fixture(scope="module")
def trained():
    return _train_latent_model()


def test_latent_edm_training_is_deterministic(trained):
    unet, losses = trained
    again, losses_again = _train_latent_model()
    assert losses == losses_again and all(torch.isfinite(torch.tensor(losses)))
    for a, b in zip(unet.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_the_step_feeds_the_unet_edm_inputs_and_times():
    """The UNet sees ``c_in (z0 + sigma n)`` at ``t = ln(sigma) / 4`` drawn from the batch's generator."""
    seen = {}

    class Probe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t, class_labels=None):  # noqa: ANN001
            seen["x"], seen["t"] = x.detach().clone(), t.detach().clone()
            return x * self.w

    schedule = make_schedule(**EDM)
    probe = Probe()
    step = LatentDiffusionStep(probe, torch.optim.SGD(probe.parameters(), lr=0.0), None, schedule, 1.0, 0.0, 3, "edm")
    mu = torch.randn(64, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(5)
    step(_engine(1), {"mu": mu, "sigma": torch.zeros_like(mu), "label": torch.zeros(64, dtype=torch.long), "generator": g})
    g = torch.Generator().manual_seed(5)
    z0 = mu + 0 * torch.randn(mu.shape, generator=g)
    t = schedule.sample_timesteps(64, generator=g)
    noise = torch.randn(mu.shape, generator=g)
    torch.testing.assert_close(seen["t"], t)
    sigma = torch.exp(4 * t.double()).float().reshape(-1, 1, 1, 1)
    torch.testing.assert_close(seen["x"], (z0 + sigma * noise) / (sigma**2 + 1).sqrt())


@pytest.mark.parametrize("sampler", ["edm_euler", "edm_heun"])
def test_latent_edm_sampling_is_deterministic_and_per_image(trained, sampler):
    unet, _ = trained
    torch.manual_seed(0)
    vae = LatentImageAutoencoder(in_channels=1, latent_channels=2, channels=[8, 16], norm_num_groups=8).eval()

    def generate(labels, first_index):
        return generate_images(vae, unet, make_schedule(**EDM), torch.tensor(labels), (2, 8, 8), 1.0, 3,
                               sampler=sampler, steps=4, guidance_scale=2.0, seed=3, first_index=first_index,
                               prediction="edm")

    batch = generate([0, 1, 2], 0)
    assert batch.shape == (3, 1, 16, 16) and float(batch.abs().max()) <= 1.0
    torch.testing.assert_close(batch, generate([0, 1, 2], 0), rtol=0, atol=0)
    torch.testing.assert_close(batch[2:], generate([2], 2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("sampler,prediction,match", [("ddim", "edm", "edm_heun"), ("edm_heun", "v", "edm")])
def test_latent_edm_refuses_a_sampler_or_prediction_of_another_kind(trained, sampler, prediction, match):
    vae = LatentImageAutoencoder(in_channels=1, latent_channels=2, channels=[8, 16], norm_num_groups=8).eval()
    with pytest.raises(ValueError, match=match):
        generate_images(vae, trained[0], make_schedule(**EDM), torch.tensor([0]), (2, 8, 8), 1.0, 3, sampler=sampler,
                        steps=4, prediction=prediction)


def test_med_cdiff_refuses_edm_with_a_message():
    from monai_synth.engines.med_cdiff.steps import ConditionalDiffusionStep

    with pytest.raises(ValueError, match="Medfusion only"):
        ConditionalDiffusionStep(_unet(), None, None, make_schedule(**EDM))


def test_the_studys_edm_recipe_trains_the_bundle_and_samples(tmp_path):
    """The time-to-quality study's ``edm`` recipe, the bundle's EDM preset: one tiny iteration, then ``sample.json``."""
    sys.path.insert(0, str(REPO / "tests" / "bundles"))
    from tiny_runs import MEDFUSION

    spec = importlib.util.spec_from_file_location("ttq", REPO / "benchmarks" / "quality" / "time_to_quality.py")
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    preset = study.PRESETS / f"{study.RECIPES['edm'][study.PRESET]}.json"
    run(config_file=[str(REPO / "bundles" / "medfusion" / "train.json"), str(preset)],
        output_dir=str(tmp_path / "run"), **MEDFUSION)
    final = load_state(tmp_path / "run" / "diffusion" / "final.pt")
    assert final["prediction"] == "edm" and final["noise_schedule_def"]["kind"] == "edm"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["sampler"]["sampler"] == "edm_heun"
    run(config_file=str(REPO / "bundles" / "medfusion" / "sample.json"), output_dir=str(tmp_path / "s"),
        checkpoint_dir=str(tmp_path / "run"), num_samples=2, class_label=1, sampler="edm_heun", steps=3, device="cpu")
    assert len(list((tmp_path / "s").glob("*.png"))) == 2
    # sample.json's defaults are the run's own: EDM's Heun sampler, unasked
    run(config_file=str(REPO / "bundles" / "medfusion" / "sample.json"), output_dir=str(tmp_path / "d"),
        checkpoint_dir=str(tmp_path / "run"), num_samples=1, class_label=1, steps=2, device="cpu")
    assert json.loads((tmp_path / "d" / "manifest.jsonl").read_text().splitlines()[0])["sampler"] == "edm_heun"
    with pytest.raises(RuntimeError) as err:  # a DDPM sampler does not fit an EDM model
        run(config_file=str(REPO / "bundles" / "medfusion" / "sample.json"), output_dir=str(tmp_path / "e"),
            checkpoint_dir=str(tmp_path / "run"), num_samples=1, class_label=1, sampler="ddim", steps=2,
            device="cpu")
    assert "edm_heun" in str(err.value) + str(err.value.__cause__)
    # the exported bundle samples with the run's own EDM sampler (sample.json leaves it to the run) and says
    # what its time input is
    inference = json.loads((tmp_path / "run" / "bundle" / "configs" / "inference.json").read_text())
    assert (inference["sampler"], inference["steps"]) == ("edm_heun", metrics["sampler"]["steps"])
    meta = json.loads((tmp_path / "run" / "bundle" / "configs" / "metadata.json").read_text())
    timesteps = meta["network_data_format"]["inputs"]["timesteps"]
    assert "ln(sigma) / 4" in timesteps["format"] and timesteps["value_range"][0] < 0 < timesteps["value_range"][1]
    from monai_synth.export.exported import load_exported

    images = load_exported(tmp_path / "run" / "bundle").generate([1], [4])
    assert images.shape == (1, 1, 16, 16) and torch.isfinite(images).all()
