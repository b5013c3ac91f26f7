"""Med-cDiff workflow: exact resume, model/task checks, and restorers loaded from a tiny trained run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from ignite.engine import Events

from monai_synth.engines.checkpoint import latest_checkpoint, load_state
from monai_synth.engines.med_cdiff import InterpolationRestorer, MedCDiffWorkflow, load_restorer
from monai_synth.engines.image_tensors import load_image_tensors
from monai_synth.transforms import downsample, upsample

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bundles"))

from tiny_runs import bundle_trainer  # noqa: E402

TINY_NETS = {
    "models#diffusion#unet_def#channels": [8, 16], "models#diffusion#unet_def#attention_levels": [False, False],
    "models#diffusion#unet_def#norm_num_groups": 8, "models#diffusion#unet_def#num_head_channels": 8,
    "models#pix2pix#generator_def#features": 4, "models#pix2pix#generator_def#depth": 4,
    "models#pix2pix#discriminator_def#channels": 4, "models#pix2pix#discriminator_def#num_layers_d": 2,
    "models#srgan#generator_def#features": 4, "models#srgan#generator_def#num_blocks": 1,
    "models#srgan#discriminator_def#features": 4, "models#srgan#discriminator_def#num_stages": 2,
    "models#srgan#discriminator_def#dense": 8,
}  # fmt: skip


class Interrupt(RuntimeError):
    pass


class StopAt:
    """A handler that interrupts training after iteration ``k`` (as a killed process would)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.ITERATION_STARTED(once=self.k + 1), self._stop)

    @staticmethod
    def _stop(engine) -> None:
        raise Interrupt


def _workflow(out, model="diffusion", task="sr", handlers=None, **kw) -> MedCDiffWorkflow:
    """The bundle's trainer with tiny networks (``train.json`` and overrides)."""
    args = {
        "output_dir": str(out), "task": task, "model": model, "image_size": 16, "phantom_count": 8, "batch_size": 4,
        "epochs": 2, **TINY_NETS, "noise_schedule#num_steps": 50, "sample#steps": 3, "sample#strength": 1.0,
        "factors": [2.0, 4.0], "checkpoint_every": 1, "log_every": 1, "ema_decay": 0.9, "train#handlers": handlers or [],
        "learning_rate": 1e-3, "report_images": 2, "precision": "fp32", "channels_last": False, "device": "cpu",
    }  # fmt: skip
    return bundle_trainer("med_cdiff", **{**args, **kw})


@pytest.fixture(scope="module")
def data():
    return load_image_tensors(None, 16, phantom_count=8)


@pytest.mark.parametrize("model,task", [("diffusion", "inpaint"), ("pix2pix", "denoise"), ("srgan", "sr")])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, data, model, task):
    _workflow(tmp_path / "ref", model, task).train(data)
    with pytest.raises(Interrupt):
        _workflow(tmp_path / "run", model, task, handlers=[StopAt(3)]).train(data)
    assert not (tmp_path / "run" / model / "final.pt").exists()
    assert latest_checkpoint(tmp_path / "run" / model).name == "checkpoint_3.pt"
    _workflow(tmp_path / "run", model, task).train(data)
    ref, res = load_state(tmp_path / "ref" / model / "final.pt"), load_state(tmp_path / "run" / model / "final.pt")
    keys = ["network"] + (["network_ema"] if model == "diffusion" else [])
    for key in keys:
        for name, a in ref[key].items():
            assert torch.equal(a, res[key][name]), f"{key}.{name}"
    assert ref["history"]["iterations"] == res["history"]["iterations"] == [1, 2, 3, 4]


def test_srgan_needs_the_sr_task(tmp_path):
    with pytest.raises(RuntimeError) as err:  # the config parser wraps the workflow's ValueError
        _workflow(tmp_path, "srgan", "denoise")
    assert isinstance(err.value.__cause__, ValueError) and "needs task 'sr'" in str(err.value.__cause__)
    with pytest.raises(RuntimeError) as err:
        _workflow(tmp_path, "unet", "sr")
    assert isinstance(err.value.__cause__, ValueError) and "model must be one of" in str(err.value.__cause__)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("med_cdiff")
    _workflow(out, "diffusion", "sr", epochs=1).run()
    _workflow(out, "pix2pix", "sr", epochs=1).run()
    return out


def test_run_writes_checkpoint_grid_and_metrics(trained):
    import json

    for name in ("diffusion/final.pt", "diffusion_grid.png", "diffusion_metrics.json", "pix2pix/final.pt",
                 "pix2pix_grid.png", "pix2pix_metrics.json"):
        assert (trained / name).is_file(), name
    final = load_state(trained / "diffusion" / "final.pt")
    assert {"network", "network_ema", "model", "task", "degradation", "network_def", "noise_schedule_def", "image_size",
            "channels", "intensity", "class_names", "prediction"} <= set(final)
    assert final["prediction"] == "v"  # the bundle default
    metrics = json.loads((trained / "diffusion_metrics.json").read_text())
    assert set(metrics["settings"]) == {"x2", "x4"}
    assert {"psnr", "ssim"} <= set(metrics["settings"]["x4"]["restored"]) and metrics["diffusion_seconds"] > 0


def test_prediction_setting_is_recorded_and_read_by_the_restorer(tmp_path):
    _workflow(tmp_path, "diffusion", "denoise", epochs=1, prediction="epsilon").run()  # not the default (v)
    assert load_state(tmp_path / "diffusion" / "final.pt")["prediction"] == "epsilon"
    restorer = load_restorer(tmp_path, "diffusion", steps=3, strength=1.0)
    assert restorer.prediction == "epsilon"
    clean = torch.rand(1, 1, 16, 16) * 2 - 1
    cond = restorer.degradation.fixed(clean, restorer.degradation.settings()[0], [0])
    assert torch.isfinite(restorer(cond, [0])).all()


def test_load_restorer_same_seeds_same_output(trained):
    r = load_restorer(trained, "diffusion", sampler="ddpm", steps=4)
    assert r.task == "sr" and r.image_size == 16 and r.channels == 1 and len(r.checkpoint_sha256) == 64
    assert "diffusion" in r.description and "ddpm 4 steps" in r.description
    clean = torch.rand(3, 1, 16, 16) * 2 - 1
    cond = r.degradation.fixed(clean, {"factor": 4.0}, [0, 1, 2])
    a, b = r(cond, [5, 6, 7]), load_restorer(trained, "diffusion", sampler="ddpm", steps=4)(cond, [5, 6, 7])
    assert a.shape == (3, 1, 16, 16) and a.abs().max() <= 1 and torch.equal(a, b)
    torch.testing.assert_close(r(cond[1:2], [6]), a[1:2], atol=1e-5, rtol=0)  # independent of the batch
    assert not torch.equal(r(cond, [8, 9, 10]), a)
    p = load_restorer(trained, "pix2pix")
    assert torch.equal(p(cond, [0, 1, 2]), p(cond, [3, 4, 5]))  # a GAN restorer is deterministic
    with pytest.raises(ValueError, match="condition"):
        r(torch.zeros(1, 2, 16, 16), [0])


def test_load_restorer_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="srgan"):
        load_restorer(tmp_path, "srgan")


def test_finished_model_of_another_task_is_refused(trained, data):
    with pytest.raises(ValueError, match="task 'sr'"):
        _workflow(trained, "diffusion", "denoise").train(data)


def test_interpolation_restorer():
    clean = torch.rand(2, 1, 32, 32) * 2 - 1
    low = downsample(clean, 4)
    for mode in ("bicubic", "bilinear"):
        r = InterpolationRestorer(mode)
        assert r.task == "sr" and mode in r.description
        torch.testing.assert_close(r(low, 32), upsample(low, 32, mode))
    with pytest.raises(ValueError):
        InterpolationRestorer("nearest")


class _RecordingNet(torch.nn.Module):
    """Stands in for the UNet: records each call's input and timestep, predicts zero noise."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.clone(), t.clone()))
        return torch.zeros_like(x[:, :1])


@pytest.mark.parametrize("strength,start", [(1.0, 99), (0.35, 34), (0.004, 0)])
def test_strength_starts_sampling_from_the_noised_condition(strength, start):
    from monai_synth.diffusion import make_schedule
    from monai_synth.engines.med_cdiff.restorer import Restorer, noise_from_seeds

    net, schedule = _RecordingNet(), make_schedule(100)
    state = {"model": "diffusion", "task": "denoise", "degradation": {}, "image_size": 8, "channels": 1}
    r = Restorer(net, state, "0" * 64, schedule, "ddim", steps=5, eta=0.0, strength=strength)
    assert r.start_timestep() == start
    cond = torch.rand(2, 1, 8, 8) * 2 - 1
    r(cond, [3, 4])
    x_first, t_first = net.calls[0]
    assert t_first.tolist() == [start, start]
    assert len(net.calls) == min(5, start + 1) and all(int(t[0]) <= start for _, t in net.calls)
    noise = noise_from_seeds([3, 4], (1, 8, 8), torch.device("cpu"))
    want = noise if strength == 1.0 else schedule.add_noise(cond, noise, start)
    torch.testing.assert_close(x_first[:, :1], want)
    torch.testing.assert_close(x_first[:, 1:], cond)  # the condition channel is unchanged
    assert ("noised to t=" in r.description) == (strength < 1.0)
    with pytest.raises(ValueError, match="strength"):
        Restorer(net, state, "0" * 64, schedule, "ddim", 5, 0.0, strength=0.0)


def test_inpainting_keeps_the_known_pixels():
    from monai_synth.diffusion import make_schedule
    from monai_synth.engines.med_cdiff.restorer import Restorer

    state = {"model": "diffusion", "task": "inpaint", "degradation": {}, "image_size": 8, "channels": 1}
    r = Restorer(_RecordingNet(), state, "0" * 64, make_schedule(100), "ddim", steps=3, eta=1.0)
    clean = torch.rand(2, 1, 8, 8) * 2 - 1
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:5, 3:7] = 1
    cond = torch.cat([clean * (1 - mask), mask], dim=1)
    out = r(cond, [0, 1])
    known = mask == 0
    assert torch.equal(out[known], clean[known])
    assert not torch.equal(out[~known], clean[~known] * 0)  # the hole is filled by the model
