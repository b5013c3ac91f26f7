"""Noise schedules, timestep spacings and tensor helpers."""

from __future__ import annotations

import math

import pytest
import torch

from monai_synth.diffusion import (
    SCHEDULE_KINDS,
    SPACINGS,
    NoiseSchedule,
    append_dims,
    clip_prediction,
    make_schedule,
    make_timesteps,
    randn_like,
)


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
def test_alphas_cumprod_decreasing_in_unit_interval(kind: str) -> None:
    sch = make_schedule(1000, kind)
    ab = sch.alphas_cumprod
    assert sch.num_steps == 1000 and ab.dtype == torch.float64
    assert bool((ab > 0).all() and (ab < 1).all() and (ab[1:] < ab[:-1]).all())
    torch.testing.assert_close(sch.alphas, 1 - sch.betas)
    torch.testing.assert_close(ab, torch.cumprod(sch.alphas, 0))
    torch.testing.assert_close(sch.sqrt_alphas_cumprod**2, ab)
    torch.testing.assert_close(sch.sqrt_one_minus_alphas_cumprod**2, 1 - ab)


def test_linear_and_scaled_linear_endpoints() -> None:
    lin = make_schedule(1000, "linear", 1e-4, 0.02)
    assert lin.betas[0].item() == pytest.approx(1e-4) and lin.betas[-1].item() == pytest.approx(0.02)
    assert float(lin.alphas_cumprod[-1]) == pytest.approx(4.04e-5, rel=0.01)  # known value of DDPM's schedule
    sl = make_schedule(1000, "scaled_linear", 0.002, 0.02)  # Medfusion's settings
    assert sl.betas[0].item() == pytest.approx(0.002) and sl.betas[-1].item() == pytest.approx(0.02)
    root = sl.betas.sqrt()
    torch.testing.assert_close(root[1:] - root[:-1], torch.full((999,), (0.02**0.5 - 0.002**0.5) / 999).double())
    assert bool((sl.betas <= lin.betas.max()).all())


def test_cosine_follows_nichol_dhariwal() -> None:
    sch = make_schedule(1000, "cosine")
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 10, 500, 900):
        assert float(sch.alphas_cumprod[t]) == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    assert float(sch.betas.max()) <= 0.999


@pytest.mark.parametrize("shape", [(4, 2, 5, 5), (4, 1, 3, 4, 5)])
def test_conversions_are_inverse(shape: tuple[int, ...]) -> None:
    sch = make_schedule(1000, "linear")
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    t = torch.tensor([0, 10, 500, 999])
    x_t = sch.add_noise(x0, eps, t)
    assert x_t.dtype == torch.float32 and x_t.shape == shape
    tol = {"atol": 1e-4, "rtol": 1e-4}
    torch.testing.assert_close(sch.predict_x0_from_eps(x_t, t, eps), x0, atol=2e-3, rtol=0)  # /sqrt(ab_999)
    torch.testing.assert_close(sch.predict_eps_from_x0(x_t, t, x0), eps, atol=2e-3, rtol=0)  # /sqrt(1 - ab_0)
    v = sch.velocity(x0, eps, t)
    torch.testing.assert_close(sch.predict_eps_from_v(x_t, t, v), eps, **tol)
    torch.testing.assert_close(sch.predict_x0_from_v(x_t, t, v), x0, **tol)
    # per-sample coefficients: sample 1 uses ab_10
    ab = float(sch.alphas_cumprod[10])
    torch.testing.assert_close(x_t[1], math.sqrt(ab) * x0[1] + math.sqrt(1 - ab) * eps[1])


def test_conversions_exact_in_float64_and_scalar_t() -> None:
    sch = make_schedule(1000, "scaled_linear", 0.00085, 0.012)
    x0, eps = torch.randn(3, 1, 8, 8, dtype=torch.float64), torch.randn(3, 1, 8, 8, dtype=torch.float64)
    x_t = sch.add_noise(x0, eps, 999)
    torch.testing.assert_close(sch.predict_x0_from_eps(x_t, 999, eps), x0)
    torch.testing.assert_close(sch.predict_eps_from_x0(x_t, 999, x0), eps)


def test_snr() -> None:
    sch = make_schedule(1000, "linear")
    t = torch.arange(1000)
    snr = sch.snr(t)
    ab = sch.alphas_cumprod
    assert snr.dtype == torch.float32 and snr.shape == (1000,)
    torch.testing.assert_close(snr, (ab / (1 - ab)).float())
    assert bool((snr[1:] < snr[:-1]).all())


def test_buffers_are_state_and_move_with_module() -> None:
    sch = make_schedule(10, "linear")
    keys = set(sch.state_dict())
    assert {"betas", "alphas", "alphas_cumprod", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod"} <= keys
    other = NoiseSchedule(torch.linspace(0.1, 0.2, 10))
    other.load_state_dict(sch.state_dict())
    torch.testing.assert_close(other.alphas_cumprod, sch.alphas_cumprod)


def test_sample_timesteps_seeded() -> None:
    sch = make_schedule(50, "linear")
    a = sch.sample_timesteps(1000, torch.Generator().manual_seed(3))
    b = sch.sample_timesteps(1000, torch.Generator().manual_seed(3))
    assert a.dtype == torch.long and a.shape == (1000,) and torch.equal(a, b)
    assert int(a.min()) == 0 and int(a.max()) == 49


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: make_schedule(10, "quadratic"), "quadratic"),
        (lambda: make_schedule(0), "num_steps"),
        (lambda: make_schedule(10, "linear", 0.5, 1.5), "betas"),
        (lambda: make_timesteps(make_schedule(10).alphas_cumprod, 11), "steps"),
        (lambda: make_timesteps(make_schedule(10).alphas_cumprod, 5, "karras"), "karras"),
    ],
)
def test_bad_values_raise(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("steps", [1, 7, 20, 150, 999, 1000])
def test_timesteps_distinct_decreasing(spacing: str, steps: int) -> None:
    ab = make_schedule(1000, "linear").alphas_cumprod
    ts = make_timesteps(ab, steps, spacing)
    assert len(ts) == steps and all(isinstance(t, int) for t in ts)
    assert all(a > b for a, b in zip(ts, ts[1:])) and 0 <= ts[-1] and ts[0] <= 999


def test_timestep_spacings_known_values() -> None:
    ab = make_schedule(1000, "linear").alphas_cumprod
    assert make_timesteps(ab, 10, "leading") == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    assert make_timesteps(ab, 10, "trailing") == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]
    assert make_timesteps(ab, 150, "trailing")[:3] == [999, 992, 986] and make_timesteps(ab, 150)[-1] == 6
    assert make_timesteps(ab, 3, "linspace") == [999, 500, 0]
    logsnr = make_timesteps(ab, 20, "logsnr")
    assert logsnr[0] == 999 and logsnr[-3:] == [4, 1, 0]
    assert make_timesteps(ab, 1000, "logsnr") == list(range(999, -1, -1))


def test_append_dims() -> None:
    assert append_dims(torch.ones(4), 5).shape == (4, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="target_ndim"):
        append_dims(torch.ones(4, 2), 1)


def test_randn_like_generators() -> None:
    x = torch.zeros(3, 2, 4, 4, dtype=torch.float64)
    a = randn_like(x, torch.Generator().manual_seed(1))
    assert a.dtype == torch.float64 and torch.equal(a, randn_like(x, torch.Generator().manual_seed(1)))
    per_sample = randn_like(x, [torch.Generator().manual_seed(s) for s in (5, 6, 7)])
    alone = randn_like(x[1:2], [torch.Generator().manual_seed(6)])  # sample depends on its own seed only
    torch.testing.assert_close(per_sample[1:2], alone)
    with pytest.raises(ValueError, match="generators"):
        randn_like(x, [torch.Generator()])


def test_clip_prediction() -> None:
    x = torch.tensor([-3.0, 0.5, 3.0])
    assert clip_prediction(x, None) is x
    assert clip_prediction(x, 1.0).tolist() == [-1.0, 0.5, 1.0]
    assert clip_prediction(x, (0.0, 2.0)).tolist() == [0.0, 0.5, 2.0]
    with pytest.raises(ValueError, match="clip_x0"):
        clip_prediction(x, (2.0, 0.0))


def test_truncated_schedule_is_a_prefix() -> None:
    s = make_schedule(50, "linear")
    t = s.truncated(19)
    assert t.num_steps == 20
    assert torch.equal(t.alphas_cumprod, s.alphas_cumprod[:20]) and torch.equal(t.betas, s.betas[:20])
    with pytest.raises(ValueError, match="last"):
        s.truncated(50)
