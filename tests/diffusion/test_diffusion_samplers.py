"""Samplers against closed-form cases: Gaussian data N(MU, S^2) and a two-point mixture, exact denoisers.

Where the tolerances come from (numbers measured by ``measure_closed_form_errors.py``, see docs/samplers.md):

- deterministic samplers are affine in ``x_T`` for Gaussian data, so their output law is known exactly; they
  are compared with the exact probability-flow ODE (``gaussian_ode_reference``) and must show their order
  of convergence (DDIM first order, DPM-Solver++(2M) second order);
- for stochastic samplers the exact output mean/std comes from ``exact_output_moments``; the Monte Carlo
  run must then agree with it within 5 standard errors (mean: ``sd / sqrt(N)``, std: ``sd / sqrt(2N)``);
- the remaining gap to ``(MU, S)`` is the sampler's own discretisation error, bounded with a small margin
  over its measured value.
"""

from __future__ import annotations

import math

import pytest
import torch
from diffusion_reference import (
    affine_fit,
    exact_output_moments,
    gaussian_denoiser,
    gaussian_ode_reference,
    mixture_denoiser,
)

from monai_synth.diffusion import (
    make_schedule,
    make_timesteps,
    randn_like,
    sample_ddim,
    sample_ddpm,
    sample_dpmpp_2m,
)

MU, S = 0.5, 0.3
SCHEDULE = make_schedule(1000, "linear", 1e-4, 0.02)
X_GRID = torch.linspace(-4, 4, 33, dtype=torch.float64).reshape(33, 1, 1, 1)


def _mc_noise(n: int = 16000, seed: int = 0) -> torch.Tensor:
    """``x_T`` for Monte Carlo checks: 16000 x 1 x 1 x 2 values (below torch's parallel grain size)."""
    return torch.randn(n, 1, 1, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _ode_error(sampler, steps: int, spacing: str) -> float:  # noqa: ANN001
    """Relative slope error of a deterministic sampler against the exact ODE + final denoising step."""
    out = sampler(gaussian_denoiser(SCHEDULE, MU, S), X_GRID, SCHEDULE, steps, spacing=spacing)
    t_last = make_timesteps(SCHEDULE.alphas_cumprod, steps, spacing)[-1]
    ref = gaussian_ode_reference(SCHEDULE, X_GRID, MU, S, t_last)
    (a, b, residual), (a_ref, b_ref, _) = affine_fit(X_GRID, out), affine_fit(X_GRID, ref)
    assert residual < 1e-12 and abs(b - b_ref) < 1e-3 * S
    return a / a_ref - 1


def test_ddim_eta0_is_deterministic_monotone_affine_map() -> None:
    denoiser = gaussian_denoiser(SCHEDULE, MU, S)
    out = sample_ddim(denoiser, X_GRID, SCHEDULE)
    again = sample_ddim(denoiser, X_GRID, SCHEDULE, generator=torch.Generator().manual_seed(123))
    assert torch.equal(out, again)  # eta = 0 draws no noise
    slope, _, residual = affine_fit(X_GRID, out)
    assert residual < 1e-12 and slope > 0 and bool((out.flatten().diff() > 0).all())


def test_ddim_is_first_order_solver_of_probability_flow_ode() -> None:
    err_50, err_150 = _ode_error(sample_ddim, 50, "trailing"), _ode_error(sample_ddim, 150, "trailing")
    assert abs(err_150) < 0.03  # measured -2.5 %
    assert 2.0 < err_50 / err_150 < 3.5  # first order: about 150 / 50 = 3 (measured 2.4)


def test_dpmpp_2m_is_second_order_solver_of_probability_flow_ode() -> None:
    err_20, err_40 = _ode_error(sample_dpmpp_2m, 20, "logsnr"), _ode_error(sample_dpmpp_2m, 40, "logsnr")
    assert abs(err_20) < 0.02  # measured +1.5 %
    assert 3.0 < err_20 / err_40 < 5.0  # second order: about (40 / 20)^2 = 4 (measured 3.96)


def test_dpmpp_20_steps_matches_ddim_150_steps_on_same_noise() -> None:
    x_T = _mc_noise()
    dpm = sample_dpmpp_2m(gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, 20)
    ddim = sample_ddim(gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, 150)
    # Both are affine with slopes within 2 % resp. 3 % of their ODE references (tests above); the two
    # references end at t = 0 resp. t = 6 and differ by the final denoising step.
    refs = [gaussian_ode_reference(SCHEDULE, X_GRID, MU, S, t) for t in (0, 6)]
    ref_gap = abs(affine_fit(X_GRID, refs[0])[0] / affine_fit(X_GRID, refs[1])[0] - 1)
    rms = (dpm - ddim).pow(2).mean().sqrt().item()
    assert rms < (0.02 + 0.03 + ref_gap) * S  # measured 0.046 S
    assert torch.corrcoef(torch.stack([dpm.flatten(), ddim.flatten()]))[0, 1] > 1 - 1e-9


SAMPLERS = {
    # name: (sampler, steps, kwargs, bound on |exact std / S - 1|  (measured value))
    "ddpm_beta_all_steps": (sample_ddpm, None, {}, 0.01),  # +0.31 %
    "ddpm_posterior_all_steps": (sample_ddpm, None, {"variance": "posterior"}, 0.015),  # -1.25 %
    "ddim_eta0_150": (sample_ddim, 150, {}, 0.035),  # -3.12 %
    "ddim_eta1_150": (sample_ddim, 150, {"eta": 1.0}, 0.075),  # -6.74 %: coarse ancestral steps lose variance
    "dpmpp_2m_20": (sample_dpmpp_2m, 20, {}, 0.02),  # +1.45 %
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_gaussian_data_mean_and_std(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sampler, steps, kw, std_bound = SAMPLERS[name]
    mean, sd = exact_output_moments(monkeypatch, sampler, gaussian_denoiser(SCHEDULE, MU, S), SCHEDULE, steps, **kw)
    # mean: the ODE carries x_T's offset from q_{T-1}'s mean, MU * S * sqrt(ab_{T-1}) = 0.001
    assert abs(mean - MU) < 0.0015 and abs(sd / S - 1) < std_bound
    x_T = _mc_noise(8000 if steps is None else 16000)
    out = sampler(gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, steps, torch.Generator().manual_seed(1), **kw)
    n = out.numel()
    assert abs(out.mean().item() - mean) < 5 * sd / math.sqrt(n)
    assert abs(out.std().item() - sd) < 5 * sd / math.sqrt(2 * n)


def test_ddim_eta1_is_ddpm_with_posterior_variance() -> None:
    """Song et al. 2021: eta = 1 gives the DDPM posterior (on any subsequence of timesteps)."""
    x_T, denoiser = _mc_noise(64), gaussian_denoiser(SCHEDULE, MU, S)
    for steps in (50, 250):
        ddim = sample_ddim(denoiser, x_T, SCHEDULE, steps, torch.Generator().manual_seed(2), eta=1.0)
        ddpm = sample_ddpm(denoiser, x_T, SCHEDULE, steps, torch.Generator().manual_seed(2), variance="posterior")
        torch.testing.assert_close(ddim, ddpm, rtol=0, atol=1e-10)


@pytest.mark.parametrize("sampler, steps", [(sample_ddim, 150), (sample_dpmpp_2m, 20), (sample_ddpm, 250)])
def test_two_point_mixture(sampler, steps: int) -> None:  # noqa: ANN001
    atoms, weights = (-0.6, 0.8), (0.3, 0.7)
    x_T = torch.randn(8000, 1, 1, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = sampler(mixture_denoiser(SCHEDULE, atoms, weights), x_T, SCHEDULE, steps, torch.Generator().manual_seed(4))
    distance = torch.minimum((out - atoms[0]).abs(), (out - atoms[1]).abs())
    assert distance.max().item() < 1e-3  # every sample lands on an atom
    share = (out > 0.1).double().mean().item()
    assert abs(share - weights[1]) < 5 * math.sqrt(weights[0] * weights[1] / out.numel())


@pytest.mark.parametrize("kw", [{}, {"eta": 1.0}])
def test_seed_determinism(kw: dict) -> None:
    x_T = _mc_noise(4)
    run = lambda seed: sample_ddim(  # noqa: E731
        gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, 10, torch.Generator().manual_seed(seed), **kw
    )
    assert torch.equal(run(7), run(7))
    assert torch.equal(run(7), run(8)) == (not kw)  # the seed matters only when eta > 0
    ddpm = [sample_ddpm(gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, 10, torch.Generator().manual_seed(7))]
    ddpm.append(sample_ddpm(gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, 10, torch.Generator().manual_seed(7)))
    assert torch.equal(*ddpm)


def test_per_sample_generators_make_each_sample_independent_of_its_batch() -> None:
    seeds = [11, 12, 13]
    x_T = randn_like(torch.zeros(3, 1, 4, 4), [torch.Generator().manual_seed(s) for s in seeds])
    gens = [torch.Generator().manual_seed(100 + s) for s in seeds]
    denoiser = gaussian_denoiser(SCHEDULE, MU, S)
    batch = sample_ddpm(denoiser, x_T, SCHEDULE, 20, gens)
    alone = sample_ddpm(denoiser, x_T[1:2], SCHEDULE, 20, [torch.Generator().manual_seed(112)])
    torch.testing.assert_close(batch[1:2], alone)


@pytest.mark.parametrize("sampler", [sample_ddpm, sample_ddim, sample_dpmpp_2m])
def test_3d_input_gives_same_values_as_2d(sampler) -> None:  # noqa: ANN001
    x_T = _mc_noise(6)
    out_2d = sampler(gaussian_denoiser(SCHEDULE, MU, S), x_T, SCHEDULE, 10, torch.Generator().manual_seed(5))
    x_3d = x_T.reshape(6, 1, 1, 1, 2)
    out_3d = sampler(gaussian_denoiser(SCHEDULE, MU, S), x_3d, SCHEDULE, 10, torch.Generator().manual_seed(5))
    assert out_3d.shape == x_3d.shape and torch.equal(out_3d.flatten(), out_2d.flatten())


@pytest.mark.parametrize(
    "sampler, steps, spacing",
    [
        (sample_ddpm, None, "trailing"),
        (sample_ddim, 150, "trailing"),
        (sample_dpmpp_2m, 20, "logsnr"),
        (sample_ddim, 7, "leading"),
    ],
)
def test_one_denoiser_call_per_step_and_callback(sampler, steps: int | None, spacing: str) -> None:  # noqa: ANN001
    denoiser, seen = gaussian_denoiser(SCHEDULE, MU, S), []
    x_T = torch.randn(2, 1, 3, 3, dtype=torch.float32)
    out = sampler(denoiser, x_T, SCHEDULE, steps, callback=seen.append, spacing=spacing)
    expected = make_timesteps(SCHEDULE.alphas_cumprod, steps or 1000, spacing)
    assert denoiser.timesteps == expected and [d["t"] for d in seen] == expected
    assert [d["i"] for d in seen] == list(range(len(expected)))
    assert set(seen[0]) == {"i", "t", "x", "x0_pred"} and seen[0]["x"] is x_T
    assert out.dtype == torch.float32 and out.shape == x_T.shape


@pytest.mark.parametrize("sampler", [sample_ddpm, sample_ddim, sample_dpmpp_2m])
def test_clip_x0_bounds_output(sampler) -> None:  # noqa: ANN001
    out = sampler(gaussian_denoiser(SCHEDULE, MU, S), _mc_noise(500), SCHEDULE, 25, clip_x0=0.6)
    assert out.max().item() <= 0.6 + 1e-12 and out.min().item() >= -0.6 - 1e-12
    assert (out > 0.6 - 1e-9).double().mean().item() > 0.2  # clipping was active (P(x0 > 0.6) = 0.37)


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    sample_ddim(gaussian_denoiser(SCHEDULE, MU, S), _mc_noise(2), SCHEDULE, 3, progress=True)
    assert "DDIM" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda d, x: sample_ddpm(d, x, SCHEDULE, 5, variance="learned"), "learned"),
        (lambda d, x: sample_ddim(d, x, SCHEDULE, 5, eta=-1.0), "eta"),
        (lambda d, x: sample_ddim(d, x, SCHEDULE, 1001), "steps"),
        (lambda d, x: sample_dpmpp_2m(d, x, SCHEDULE, 5, spacing="karras"), "karras"),
        (lambda d, x: sample_ddim(lambda x, t: x[:, :1], torch.zeros(2, 2, 3, 3), SCHEDULE, 5), "shape"),
    ],
)
def test_bad_arguments_raise(call, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        call(gaussian_denoiser(SCHEDULE, MU, S), _mc_noise(2))
