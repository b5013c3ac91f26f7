"""Rectified flow: agreement with MONAI's RFlowScheduler, and the Euler/Heun samplers on closed-form data.

For Gaussian data ``x0 ~ N(MU, S^2)`` and ``x_t = (1 - s) x0 + s noise`` the exact velocity is
``E[x0 - noise | x_t]``, and the exact flow maps the noise ``z`` at ``s = 1`` to ``MU + S z`` at ``s = 0`` (the
flow of a 1D Gaussian is its monotone affine transport). For a single data point ``c`` the paths are straight
lines, so one Euler step lands on ``c`` exactly.
"""

from __future__ import annotations

import pytest
import torch
from monai.networks.schedulers import RFlowScheduler
from monai.networks.schedulers.rectified_flow import timestep_transform

from monai_synth.diffusion import (
    FlowSchedule,
    default_timesteps,
    flow_timesteps,
    make_schedule,
    sample_ddim,
    sample_euler,
    sample_heun,
)

MU, S = 0.5, 0.3
T = 1000


def flow(**kw) -> FlowSchedule:
    return make_schedule(T, "rectified_flow", **kw)


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Exact ``E[x0 - noise | x_t]`` for ``x0 ~ N(MU, S^2)``, in float64."""
    s = (t.double() / T).reshape(-1, *([1] * (x.ndim - 1)))
    var = (1 - s) ** 2 * S**2 + s**2
    r = x - (1 - s) * MU
    return (MU + (1 - s) * S**2 / var * r) - s / var * r


Z = torch.linspace(-3, 3, 13, dtype=torch.float64).reshape(13, 1, 1, 1)


def _endpoint_error(sampler, steps: int) -> float:  # noqa: ANN001
    out = sampler(gaussian_velocity, Z, flow(use_discrete_timesteps=False), steps)
    return float((out - (MU + S * Z)).abs().max())


# --- agreement with MONAI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 2, 4, 4), (3, 2, 4, 4, 4)])
def test_add_noise_matches_monai(shape) -> None:
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    t = torch.tensor([0, 417, 1000])
    want = RFlowScheduler(T).add_noise(x0, noise, t)
    torch.testing.assert_close(flow().add_noise(x0, noise, t), want, rtol=0, atol=1e-6)
    torch.testing.assert_close(flow().add_noise(x0, noise, t.float() + 0.25),
                               RFlowScheduler(T).add_noise(x0, noise, t.float() + 0.25), rtol=0, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 7, 30])
def test_sampling_timesteps_match_monai(steps: int) -> None:
    monai = RFlowScheduler(T)  # discrete timesteps, no shift
    monai.set_timesteps(steps)
    assert flow_timesteps(flow(), steps) == [float(t) for t in monai.timesteps]
    # resolution-dependent shift, continuous time (MONAI casts its list to float16)
    monai = RFlowScheduler(T, use_discrete_timesteps=False, use_timestep_transform=True, base_img_size_numel=16 * 16,
                           spatial_dim=2)
    monai.set_timesteps(steps, input_img_size_numel=64 * 64)
    ours = flow_timesteps(flow(use_discrete_timesteps=False, base_img_size_numel=16 * 16), steps, (64, 64))
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), monai.timesteps.double(), rtol=1e-3, atol=0)
    # the shift spends more steps at high noise
    assert ours[0] == T and all(t > (1 - i / steps) * T for i, t in enumerate(ours[1:], 1))


@pytest.mark.parametrize("method", ["uniform", "logit-normal"])
@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize("base", [None, 8 * 8])
def test_training_timesteps_match_monai(method: str, discrete: bool, base) -> None:  # noqa: ANN001
    """Same draws from the same seed (MONAI draws from the global generator, ours from a given one)."""
    x = torch.zeros(2000, 1, 32, 32)
    monai = RFlowScheduler(T, use_discrete_timesteps=discrete, sample_method=method, loc=0.4, scale=0.7,
                           use_timestep_transform=base is not None, base_img_size_numel=base or 1)
    torch.manual_seed(11)
    want = monai.sample_timesteps(x).double()
    ours = flow(sample_method=method, loc=0.4, scale=0.7, use_discrete_timesteps=discrete, base_img_size_numel=base)
    got = ours.sample_timesteps(2000, torch.Generator().manual_seed(11), spatial_shape=(32, 32)).double()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-3)
    assert float(got.min()) >= 0 and float(got.max()) < T
    if method == "logit-normal" and base is None and not discrete:  # the law itself: median sigmoid(loc) T
        assert abs(float(got.median()) / T - float(torch.sigmoid(torch.tensor(0.4)))) < 0.02


def test_shift_is_monai_timestep_transform() -> None:
    t = torch.tensor([1.0, 250.0, 500.0, 999.0])
    want = timestep_transform(t, input_img_size_numel=torch.tensor(48 * 48), base_img_size_numel=16 * 16,
                              num_train_timesteps=T, spatial_dim=2)
    sch = flow(shift=1.0, base_img_size_numel=16 * 16)
    from monai_synth.diffusion.flow import shift_timesteps

    torch.testing.assert_close(shift_timesteps(t / T, sch.shift_ratio((48, 48))) * T, want)
    assert sch.shift_ratio((48, 48)) == pytest.approx(3.0) and flow(shift=3.0).shift_ratio() == 3.0


def test_euler_matches_monai_step_loop() -> None:
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -0.3 * x + (t.float() / T).reshape(-1, 1, 1, 1) * torch.sin(x)

    x_T = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    monai = RFlowScheduler(T)
    monai.set_timesteps(12)
    x = x_T.clone()
    nexts = torch.cat((monai.timesteps[1:], torch.tensor([0], dtype=monai.timesteps.dtype)))
    for t, t_next in zip(monai.timesteps, nexts):
        x, _ = monai.step(velocity(x, torch.full((2,), float(t))), t, x, t_next)
    torch.testing.assert_close(sample_euler(velocity, x_T, flow(), 12), x, rtol=1e-5, atol=1e-6)


# --- samplers on closed-form cases ------------------------------------------------------------------------


def test_one_euler_step_reaches_a_single_data_point() -> None:
    c = torch.tensor([[[[0.7, -0.2]]]], dtype=torch.float64)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # E[c - noise | x_t] = (c - x_t) / s
        return (c - x) / (t.double() / T).reshape(-1, 1, 1, 1)

    x_T = torch.randn(5, 1, 1, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(sample_euler(velocity, x_T, flow(), 1), c.expand(5, 1, 1, 2), rtol=0, atol=1e-12)


def test_euler_and_heun_reach_the_gaussian_endpoint_with_their_order() -> None:
    euler = [_endpoint_error(sample_euler, n) for n in (10, 20, 40)]
    heun = [_endpoint_error(sample_heun, n) for n in (10, 20, 40)]
    assert euler[-1] < 0.05 and heun[-1] < 3e-3  # measured: 0.042 and 0.0025
    for e in zip(euler, euler[1:]):  # first order: the error halves when the steps double
        assert 0.4 < e[1] / e[0] < 0.6
    for h in zip(heun, heun[1:]):  # second order: it quarters
        assert 0.18 < h[1] / h[0] < 0.32


def test_heun_evaluates_twice_per_step_but_the_last() -> None:
    calls: list[float] = []

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(float(t[0]))
        return torch.zeros_like(x)

    sample_heun(velocity, torch.zeros(1, 1, 2, 2), flow(), timesteps=[1000.0, 600.0, 200.0])
    assert calls == [1000.0, 600.0, 600.0, 200.0, 200.0]


def test_flow_samplers_work_in_3d_and_per_sample() -> None:
    x = torch.randn(3, 1, 2, 2, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    both = sample_heun(gaussian_velocity, x, flow(), 40)
    one = sample_heun(gaussian_velocity, x[1:2], flow(), 40)
    torch.testing.assert_close(both[1:2], one, rtol=0, atol=1e-12)
    torch.testing.assert_close(both, MU + S * x, rtol=0, atol=5e-3)


def test_clip_x0_changes_nothing_when_loose_and_bounds_when_tight() -> None:
    x = Z * 2
    free = sample_euler(gaussian_velocity, x, flow(), 8)
    torch.testing.assert_close(sample_euler(gaussian_velocity, x, flow(), 8, clip_x0=100.0), free)
    tight = sample_euler(gaussian_velocity, x, flow(), 8, clip_x0=0.6)
    assert float(tight.abs().max()) <= 0.6 + 1e-9 < float(free.abs().max())


def test_partial_sampling_starts_at_the_given_timestep() -> None:
    ts = default_timesteps("euler", flow(), 4, start=400.0)
    assert ts == [400.0, 300.0, 200.0, 100.0]
    ts = default_timesteps("ddim", make_schedule(100), 5, start=34)
    assert ts[0] == 34 and len(ts) == 5


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: sample_euler(gaussian_velocity, Z, make_schedule(100), 5), "rectified-flow"),
        (lambda: sample_ddim(gaussian_velocity, Z, flow(), 5), "DDPM"),
        (lambda: sample_heun(gaussian_velocity, Z, flow(), timesteps=[500.0, 700.0]), "decreasing"),
        (lambda: sample_heun(gaussian_velocity, Z, flow(), timesteps=[500.0, 0.0]), "above 0"),
        (lambda: default_timesteps("dpmpp_2m", flow(), 5), "euler"),
        (lambda: default_timesteps("euler", make_schedule(100), 5), "ddim"),
        (lambda: make_schedule(100, "rectified_flow", beta_start=0.1), "beta_start"),
        (lambda: make_schedule(100, "linear", sample_method="uniform"), "rectified_flow"),
        (lambda: flow(sample_method="beta"), "beta"),
        (lambda: flow(base_img_size_numel=64).sample_timesteps(2), "spatial_shape"),
    ],
)
def test_bad_settings_fail_with_a_message(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()
