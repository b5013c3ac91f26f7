"""DenoisingLoss: the targets of each prediction, the plain MSE, and Min-SNR-gamma against its definition.

Min-SNR-gamma (Hang et al. 2023) weights the clean-sample error by ``min(snr_t, gamma)``. The check converts
each output to the clean sample it implies with the schedules' own conversions (independent of the weights'
closed forms) and compares ``w_t * |output error|^2`` with ``min(snr_t, gamma) * |x0 error|^2``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_synth.diffusion import make_schedule
from monai_synth.losses import DenoisingLoss

DDPM = make_schedule(1000, "scaled_linear", 0.002, 0.02)
FLOW = make_schedule(1000, "rectified_flow")
G = torch.Generator().manual_seed(0)
X0, NOISE, ERR = (torch.randn(6, 2, 4, 4, generator=G) for _ in range(3))
T_DDPM = torch.tensor([0, 5, 100, 400, 800, 999])
T_FLOW = torch.tensor([1.0, 20.0, 150.0, 500.0, 900.0, 1000.0])


def test_plain_loss_is_torch_mse_bit_for_bit() -> None:
    out = torch.randn(6, 2, 4, 4, generator=G)
    assert torch.equal(DenoisingLoss(DDPM, "epsilon")(out, X0, NOISE, T_DDPM), F.mse_loss(out, NOISE))
    v = DDPM.sqrt_alphas_cumprod[T_DDPM].float().reshape(-1, 1, 1, 1) * NOISE - DDPM.sqrt_one_minus_alphas_cumprod[
        T_DDPM].float().reshape(-1, 1, 1, 1) * X0
    assert torch.equal(DenoisingLoss(DDPM, "v")(out, X0, NOISE, T_DDPM), F.mse_loss(out, v))
    assert torch.equal(DenoisingLoss(FLOW)(out, X0, NOISE, T_FLOW), F.mse_loss(out, X0 - NOISE))
    assert DenoisingLoss(DDPM).prediction == "epsilon" and DenoisingLoss(FLOW).prediction == "velocity"


def _x0_from(schedule, prediction: str, x_t: torch.Tensor, t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    if prediction == "epsilon":
        return schedule.predict_x0_from_eps(x_t, t, out)
    if prediction == "v":
        return schedule.predict_x0_from_v(x_t, t, out)
    return schedule.predict_x0_from_velocity(x_t, t, out)


@pytest.mark.parametrize("schedule,prediction,t", [(DDPM, "epsilon", T_DDPM), (DDPM, "v", T_DDPM),
                                                     (FLOW, "velocity", T_FLOW)])
@pytest.mark.parametrize("gamma", [1.0, 5.0])
def test_min_snr_weights_the_clean_sample_error_by_min_snr_gamma(schedule, prediction: str, t, gamma: float) -> None:
    x0, noise = X0.double(), NOISE.double()
    loss = DenoisingLoss(schedule, prediction, min_snr_gamma=gamma)
    target = loss.target(x0, noise, t)
    out = target + 1e-3 * ERR.double()
    x_t = schedule.add_noise(x0, noise, t)
    x0_err = (_x0_from(schedule, prediction, x_t, t, out) - x0).square().flatten(1).mean(1)
    out_err = (out - target).square().flatten(1).mean(1)
    want = schedule.snr(t).double().clamp(max=gamma) * x0_err
    torch.testing.assert_close(loss.weights(t).double() * out_err, want, rtol=2e-4, atol=1e-14)
    torch.testing.assert_close(loss(out, x0, noise, t).double(), (loss.weights(t).double() * out_err).mean(),
                               rtol=1e-5, atol=0)


def test_flow_weight_is_zero_on_clean_data() -> None:
    """At t = 0 the velocity cannot be predicted from x_t = x0; the weight there is 0, not NaN."""
    assert float(DenoisingLoss(FLOW, min_snr_gamma=5.0).weights(torch.tensor([0.0]))) == 0.0


@pytest.mark.parametrize(
    "schedule,prediction,gamma,match",
    [(DDPM, "velocity", None, "rectified_flow|ddpm"), (FLOW, "epsilon", None, "velocity"),
     (DDPM, "x0", None, "prediction"), (DDPM, "epsilon", 0.0, "min_snr_gamma")],
)
def test_bad_settings_fail_with_a_message(schedule, prediction: str, gamma, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DenoisingLoss(schedule, prediction, gamma)
