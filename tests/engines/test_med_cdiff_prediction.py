"""Med-cDiff's ``prediction``: the samplers read what the UNet predicts from ``final.pt``'s settings.

An oracle network that knows the clean image answers with the exact v (or epsilon) for any ``x_t``: restoring from
pure noise must give that image back, and reading its v as an epsilon must not.
"""

import pytest
import torch

from monai_synth.diffusion import make_schedule
from monai_synth.engines.med_cdiff.restorer import Restorer

SIZE = 8


class _Oracle(torch.nn.Module):
    """Predicts ``target`` for the clean image ``x0`` whatever ``x_t`` (condition channels ignored)."""

    def __init__(self, schedule, x0: torch.Tensor, target: str) -> None:
        super().__init__()
        self.schedule, self.x0, self.target = schedule, x0, target

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x_t = x[:, :1].double()
        ab = self.schedule.alphas_cumprod.double()[t.long()].view(-1, 1, 1, 1)
        eps = (x_t - ab.sqrt() * self.x0) / (1 - ab).sqrt()
        out = eps if self.target == "epsilon" else ab.sqrt() * eps - (1 - ab).sqrt() * self.x0
        return out.float()


def _restore(prediction_in_state, oracle_target, sampler="ddim"):
    schedule = make_schedule(2000, "linear", 1e-4, 0.02)
    x0 = (torch.linspace(-0.8, 0.8, SIZE * SIZE).view(1, 1, SIZE, SIZE)).double().repeat(2, 1, 1, 1)
    state = {"model": "diffusion", "task": "denoise", "degradation": {}, "image_size": SIZE, "channels": 1}
    if prediction_in_state is not None:
        state["prediction"] = prediction_in_state
    r = Restorer(_Oracle(schedule, x0, oracle_target), state, "0" * 64, schedule, sampler, steps=10, eta=0.0)
    cond = torch.zeros(2, 1, SIZE, SIZE)
    return r(cond, [0, 1]), x0.float(), r


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m"])
def test_v_model_restores_from_pure_noise(sampler):
    restored, x0, r = _restore("v", "v", sampler)
    assert r.prediction == "v"
    torch.testing.assert_close(restored, x0, atol=2e-3, rtol=0)


def test_state_without_prediction_is_an_epsilon_model():
    restored, x0, r = _restore(None, "epsilon")
    assert r.prediction == "epsilon"
    torch.testing.assert_close(restored, x0, atol=2e-3, rtol=0)


def test_a_v_model_read_as_epsilon_fails():
    restored, x0, _ = _restore("epsilon", "v")
    assert (restored - x0).abs().mean() > 0.1  # read right, the same oracle is exact to 1e-6


def test_prediction_that_does_not_fit_the_schedule_is_refused():
    schedule = make_schedule(2000, "linear", 1e-4, 0.02)
    state = {"model": "diffusion", "task": "denoise", "degradation": {}, "image_size": SIZE, "channels": 1,
             "prediction": "velocity"}
    with pytest.raises(ValueError, match="velocity"):
        Restorer(torch.nn.Identity(), state, "0" * 64, schedule, "ddim", 10, 0.0)
