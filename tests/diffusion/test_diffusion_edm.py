"""EDM preconditioning and samplers, checked against the paper's formulas and closed-form Gaussian data.

For ``y ~ N(MU, S^2)`` and ``x = y + sigma n`` the exact denoiser is ``D(x; sigma) = MU + S^2 / (S^2 + sigma^2)
(x - MU)``, and the probability-flow ODE carries ``x = MU + sqrt(S^2 + sigma^2) z`` from any ``sigma`` to
``MU + S z`` at ``sigma = 0``. The reference formulas are written here from Karras et al. 2022 (Table 1,
eq. 5 and Algorithm 1) and k-diffusion's ``get_sigmas_karras``, not imported from the code under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from monai_synth.diffusion import (
    EDMSchedule,
    default_timesteps,
    edm_timesteps,
    make_schedule,
    sample_ddim,
    sample_edm_euler,
    sample_edm_heun,
)
from monai_synth.losses.denoising import DenoisingLoss

MU, S = 0.5, 0.3


def edm(**kw) -> EDMSchedule:
    return make_schedule(kind="edm", **{"sigma_data": 0.5, **kw})


def _karras(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> torch.Tensor:
    """k-diffusion's ``get_sigmas_karras`` without its appended zero."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def gaussian_network(schedule: EDMSchedule):
    """The preconditioned network ``F(c_in x, c_noise)`` whose denoiser is the exact Gaussian one."""

    def network(x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sigma = torch.exp(4 * t.double()).reshape(-1, *([1] * (x_in.ndim - 1)))
        sd2 = schedule.sigma_data**2
        x = x_in * (sigma**2 + sd2).sqrt()
        d = MU + S**2 / (S**2 + sigma**2) * (x - MU)
        c_skip, c_out = sd2 / (sigma**2 + sd2), sigma * schedule.sigma_data / (sigma**2 + sd2).sqrt()
        return (d - c_skip * x) / c_out

    return network


Z = torch.linspace(-3, 3, 13, dtype=torch.float64).reshape(13, 1, 1, 1)


def _endpoint_error(sampler, steps: int) -> float:  # noqa: ANN001
    schedule = edm()
    sigma_max = schedule.sigma_max
    x = MU + math.sqrt(S**2 + sigma_max**2) * Z  # the ODE's exact state at sigma_max
    x_T = x / math.sqrt(sigma_max**2 + schedule.sigma_data**2)  # as the network sees it
    out = sampler(gaussian_network(schedule), x_T, schedule, steps)
    return float((out - (MU + S * Z)).abs().max())


# --- preconditioning --------------------------------------------------------------------------------------


def test_preconditioning_is_table_1_and_the_loss_is_eq_2_weighted_by_lambda() -> None:
    schedule, sd = edm(), 0.5
    g = torch.Generator().manual_seed(0)
    y, n = torch.randn(4, 2, 3, 3, generator=g, dtype=torch.float64), torch.randn(4, 2, 3, 3, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.01, 0.4, 2.0, 60.0], dtype=torch.float64)
    t = torch.log(sigma) / 4
    s4 = sigma.reshape(-1, 1, 1, 1)
    x = y + s4 * n
    torch.testing.assert_close(schedule.add_noise(y, n, t), x / (s4**2 + sd**2).sqrt())
    # any network output F: lambda(sigma) |D - y|^2 (EDM eq. 2 with lambda = 1 / c_out^2) equals |F - target|^2
    f = torch.randn(4, 2, 3, 3, generator=g, dtype=torch.float64)
    c_skip, c_out = sd**2 / (s4**2 + sd**2), s4 * sd / (s4**2 + sd**2).sqrt()
    d = c_skip * x + c_out * f
    weighted = ((d - y) ** 2 / c_out**2).mean()
    loss = DenoisingLoss(schedule, "edm")
    torch.testing.assert_close(loss(f.float(), y.float(), n.float(), t.float()).double(), weighted, rtol=1e-5, atol=0)
    for k in range(4):
        torch.testing.assert_close(schedule.denoised(x[k:k + 1], float(sigma[k]), f[k:k + 1]), d[k:k + 1])
    torch.testing.assert_close(schedule.snr(t), (sd**2 / sigma**2).float())


def test_with_unit_sigma_data_the_target_is_minus_v_of_a_variance_preserving_path() -> None:
    schedule = edm(sigma_data=1.0)
    g = torch.Generator().manual_seed(1)
    y, n = torch.randn(3, 1, 2, 2, generator=g, dtype=torch.float64), torch.randn(3, 1, 2, 2, generator=g, dtype=torch.float64)
    sigma = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64).reshape(-1, 1, 1, 1)
    alpha, s = 1 / (1 + sigma**2).sqrt(), sigma / (1 + sigma**2).sqrt()
    t = torch.log(sigma.flatten()) / 4
    torch.testing.assert_close(schedule.add_noise(y, n, t), alpha * y + s * n)
    torch.testing.assert_close(schedule.target(y, n, t), -(alpha * n - s * y))


def test_training_noise_levels_are_log_normal() -> None:
    schedule = edm(p_mean=-1.2, p_std=1.2)
    t = schedule.sample_timesteps(200_000, generator=torch.Generator().manual_seed(0))
    log_sigma = 4 * t.double()
    assert t.dtype == torch.float32 and t.shape == (200_000,)
    assert abs(float(log_sigma.mean()) + 1.2) < 0.01 and abs(float(log_sigma.std()) - 1.2) < 0.01
    again = schedule.sample_timesteps(5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, schedule.sample_timesteps(5, generator=torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("steps", [2, 18, 40])
def test_sampling_noise_levels_are_eq_5(steps: int) -> None:
    ts = edm_timesteps(edm(), steps)
    torch.testing.assert_close(torch.exp(4 * torch.tensor(ts, dtype=torch.float64)), _karras(steps))
    assert default_timesteps("edm_heun", edm(), steps) == ts
    partial = edm_timesteps(edm(), 5, start=math.log(2.0) / 4)
    torch.testing.assert_close(torch.exp(4 * torch.tensor(partial, dtype=torch.float64)), _karras(5, sigma_max=2.0))


# --- samplers on closed-form data -------------------------------------------------------------------------


def test_euler_and_heun_reach_the_gaussian_endpoint_with_their_order() -> None:
    euler = [_endpoint_error(sample_edm_euler, n) for n in (20, 40, 80)]
    heun = [_endpoint_error(sample_edm_heun, n) for n in (10, 20, 40)]
    assert euler[-1] < 0.04 and heun[-1] < 0.015  # measured: 0.034 and 0.010
    for e in zip(euler, euler[1:]):  # first order: the error halves when the steps double
        assert 0.4 < e[1] / e[0] < 0.6
    for h in zip(heun, heun[1:]):  # second order: it about quarters (measured 0.20 and 0.22)
        assert 0.15 < h[1] / h[0] < 0.3


def test_heun_evaluates_twice_per_level_but_the_last_at_the_network_times() -> None:
    calls: list[float] = []

    def network(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(round(float(t[0]), 6))
        return torch.zeros_like(x)

    times = [math.log(s) / 4 for s in (10.0, 1.0, 0.1)]
    sample_edm_heun(network, torch.zeros(1, 1, 2, 2), edm(), timesteps=times)
    want = [round(v, 6) for v in (times[0], times[1], times[1], times[2], times[2])]
    assert calls == want


def test_edm_samplers_are_per_sample_and_clip_when_tight() -> None:
    schedule = edm()
    x = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    both = sample_edm_heun(gaussian_network(schedule), x, schedule, 12)
    one = sample_edm_heun(gaussian_network(schedule), x[1:2], schedule, 12)
    torch.testing.assert_close(both[1:2], one, rtol=0, atol=1e-12)
    free = sample_edm_euler(gaussian_network(schedule), Z, schedule, 8)
    tight = sample_edm_euler(gaussian_network(schedule), Z, schedule, 8, clip_x0=0.6)
    assert float(tight.abs().max()) <= 0.6 + 1e-9 < float(free.abs().max())


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: sample_edm_heun(gaussian_network(edm()), Z, make_schedule(100), 5), "EDM schedule"),
        (lambda: sample_ddim(gaussian_network(edm()), Z, edm(), 5), "DDPM"),
        (lambda: sample_edm_euler(gaussian_network(edm()), Z, edm(), timesteps=[0.1, 0.5]), "decreasing"),
        (lambda: default_timesteps("ddim", edm(), 5), "edm_heun"),
        (lambda: default_timesteps("edm_heun", make_schedule(100), 5), "ddim"),
        (lambda: make_schedule(kind="edm", beta_start=0.1), "beta_start"),
        (lambda: edm(sigma_min=1.0, sigma_max=0.5), "sigma_max"),
        (lambda: edm_timesteps(edm(), 0), "steps"),
        (lambda: DenoisingLoss(edm(), "edm", min_snr_gamma=5.0), "preconditioning"),
        (lambda: DenoisingLoss(edm(), "v"), "edm"),
    ],
)
def test_bad_settings_fail_with_a_message(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()
