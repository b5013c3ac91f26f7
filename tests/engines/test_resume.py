"""A training phase interrupted at any iteration and run again ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from monai_synth.diffusion import make_schedule
from monai_synth.engines.checkpoint import latest_checkpoint, load_state
from monai.networks.nets import DiffusionModelUNet
from monai_synth.engines.batch_source import SeededBatches
from monai_synth.engines.medfusion.steps import LatentDiffusionStep
from monai_synth.engines.training_run import TrainingPhase
from monai_synth.handlers.ema import WeightEMA


class Interrupt(RuntimeError):
    pass


def _phase(tmp, stop_at: int | None = None) -> tuple[TrainingPhase, torch.nn.Module, WeightEMA]:
    torch.manual_seed(0)
    unet = DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=2, channels=[8, 16], attention_levels=[False, False],
                              num_res_blocks=1, norm_num_groups=8, num_head_channels=8, num_class_embeds=4)
    ema = WeightEMA(unet, 0.9)
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    mu, sigma = torch.randn(12, 2, 8, 8, generator=g), torch.rand(12, 2, 8, 8, generator=g) * 0.1
    labels = torch.arange(12) % 3
    step = LatentDiffusionStep(unet, opt, ema, make_schedule(100), 1.0, 0.5, 3)
    batches = SeededBatches({"mu": mu, "sigma": sigma, "label": labels}, 4, 7)

    def maybe_stop(engine, batch):
        if stop_at is not None and engine.state.iteration == stop_at:
            raise Interrupt
        return step(engine, batch)

    phase = TrainingPhase("diffusion", tmp, maybe_stop, {"unet": unet, "opt": opt, "ema": ema}, {"unet": unet},
                          epoch_length=None, max_epochs=3, checkpoint_every=2, log_every=1, batches=batches)
    return phase, unet, ema


@pytest.mark.parametrize("stop_at", [3, 6])
def test_resume_is_exact(tmp_path, stop_at):
    ref_phase, ref_unet, ref_ema = _phase(tmp_path / "ref")
    ref_phase.run()

    interrupted, _, _ = _phase(tmp_path / "run", stop_at=stop_at)
    with pytest.raises(Interrupt):
        interrupted.run()
    assert not interrupted.final_path.exists(), "an interrupted phase must not look finished"
    ckpt = latest_checkpoint(tmp_path / "run" / "diffusion")
    assert ckpt is not None and int(ckpt.stem.split("_")[1]) == (stop_at - 1) // 2 * 2

    resumed, unet, ema = _phase(tmp_path / "run")
    resumed.run()
    for a, b in zip(ref_unet.state_dict().values(), unet.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(ref_ema.ema.state_dict().values(), ema.ema.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.history.iterations == ref_phase.history.iterations
    final = load_state(resumed.final_path)
    assert set(final) >= {"unet", "history"}


def test_finished_phase_is_not_rerun(tmp_path):
    phase, _, _ = _phase(tmp_path)
    phase.run()
    stamp = phase.final_path.stat().st_mtime_ns
    again, _, _ = _phase(tmp_path, stop_at=1)  # would raise if it ran a step
    again.run()
    assert phase.final_path.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("mode", ["global", "channel"])
def test_latent_normalisation_round_trips(mode):
    from monai_synth.engines.medfusion import normalise_latents

    g = torch.Generator().manual_seed(0)
    mu = torch.randn(64, 3, 4, 4, generator=g) * torch.tensor([0.5, 2.0, 4.0]).view(1, 3, 1, 1) + torch.tensor([2.0, 0.0, -1.0]).view(1, 3, 1, 1)
    sigma = torch.rand(64, 3, 4, 4, generator=g)
    mu_n, sigma_n, scale, shift = normalise_latents(mu, sigma, mode)
    s = torch.as_tensor(scale).reshape(1, -1, 1, 1)
    b = torch.as_tensor(shift).reshape(1, -1, 1, 1)
    torch.testing.assert_close(mu_n / s + b, mu, rtol=1e-5, atol=1e-5)  # what the decoder gets back
    torch.testing.assert_close(sigma_n / s, sigma)
    if mode == "channel":
        torch.testing.assert_close(mu_n.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(mu_n.std((0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    else:
        assert shift == 0.0 and abs(float(mu_n.std()) - 1.0) < 1e-5


def test_resume_counts_only_its_own_iterations_and_leaves_one_checkpoint(tmp_path):
    interrupted, _, _ = _phase(tmp_path, stop_at=6)
    with pytest.raises(Interrupt):
        interrupted.run()
    resumed, _, _ = _phase(tmp_path)
    resumed.run()
    assert resumed.iterations_run == 9 - 4  # resumed from checkpoint_4.pt
    assert resumed.images_per_second(4) == pytest.approx(5 * 4 / resumed.seconds, rel=0.01)
    assert sorted(p.name for p in (tmp_path / "diffusion").glob("checkpoint_*.pt")) == ["checkpoint_9.pt"]


def test_non_finite_loss_stops_with_the_iteration_and_keeps_the_last_good_checkpoint(tmp_path):
    from monai_synth.engines.finite_check import NonFiniteTrainingError

    phase, unet, _ = _phase(tmp_path)
    step = phase.step_fn

    def poisoned(engine, batch):  # a NaN pixel reaching the loss at iteration 5
        out = step(engine, batch)
        if engine.state.iteration == 5:
            with torch.no_grad():
                next(unet.parameters()).fill_(float("nan"))
            out["loss"] = float("nan")
        return out

    phase.step_fn = poisoned
    with pytest.raises(NonFiniteTrainingError, match=r"diffusion: non-finite loss=nan at iteration 5.*checkpoint_4\.pt is kept"):
        phase.run()
    assert not phase.final_path.exists()
    assert [p.name for p in (tmp_path / "diffusion").glob("checkpoint_*.pt")] == ["checkpoint_4.pt"]
    state = load_state(tmp_path / "diffusion" / "checkpoint_4.pt")
    assert all(torch.isfinite(t).all() for t in state["unet"].values() if t.is_floating_point())


def test_non_finite_weights_with_a_finite_loss_also_stop(tmp_path):
    from monai_synth.engines.finite_check import NonFiniteTrainingError

    phase, unet, _ = _phase(tmp_path)
    step = phase.step_fn

    def nan_gradient(engine, batch):
        out = step(engine, batch)
        if engine.state.iteration == 2:
            with torch.no_grad():
                next(unet.parameters()).add_(float("inf"))
            out.pop("grad_norm", None)
        return out

    phase.step_fn = nan_gradient
    with pytest.raises(NonFiniteTrainingError, match=r"weights of unet at iteration 2.*no checkpoint was written yet"):
        phase.run()
