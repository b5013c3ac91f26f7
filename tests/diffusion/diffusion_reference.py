"""Closed-form references for testing samplers: exact denoisers of Gaussian and two-point data.

For data ``x0 ~ N(mu, s^2)`` (independently per element) and ``x_t = sqrt(ab) x0 + sqrt(1 - ab) eps``:

- exact denoiser ``E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) mu) / (ab s^2 + 1 - ab)``;
- the probability-flow ODE keeps the z-score ``(x_t - sqrt(ab_t) mu) / sqrt(ab_t s^2 + 1 - ab_t)``
  constant (the flow map between two 1D Gaussians is the monotone affine one);
- so a sampler that solved the ODE exactly from ``t = T - 1`` down to its last timestep ``t_last`` and then
  returned ``E[x0 | x_{t_last}]`` would map ``x_T`` to :func:`gaussian_ode_reference`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import pytest
import torch

from monai_synth.diffusion import NoiseSchedule, randn_like


class CountingDenoiser:
    """Wrap ``fn(x, t)`` and count its calls and the batch sizes it saw."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        self.fn = fn
        self.calls = 0
        self.timesteps: list[int] = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.dtype == torch.long and t.shape == (x.shape[0],) and bool((t == t[0]).all())
        self.calls += 1
        self.timesteps.append(int(t[0]))
        return self.fn(x, t)


def _ab(schedule: NoiseSchedule, t: torch.Tensor) -> float:
    """``alphas_cumprod`` at the batch's (common) timestep, as a float: tensor-scalar ops are fast."""
    return float(schedule.alphas_cumprod[int(t[0])])


def gaussian_denoiser(schedule: NoiseSchedule, mu: float, s: float) -> CountingDenoiser:
    """Exact eps denoiser ``E[eps | x_t]`` for data ``N(mu, s^2)``."""

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = _ab(schedule, t)
        return (x - math.sqrt(ab) * mu) * (math.sqrt(1 - ab) / (ab * s * s + 1 - ab))

    return CountingDenoiser(fn)


def mixture_denoiser(schedule: NoiseSchedule, atoms: Sequence[float], weights: Sequence[float]) -> CountingDenoiser:
    """Exact eps denoiser for data on a few points: ``P(x0 = atoms[k]) = weights[k]``."""

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = _ab(schedule, t)
        logits = [math.log(w) - (x - math.sqrt(ab) * c) ** 2 / (2 * (1 - ab)) for c, w in zip(atoms, weights)]
        top = functools.reduce(torch.maximum, logits)
        # P(x0 = atoms[k] | x_t) up to a factor; the clamp (error < 1e-26) avoids slow denormal arithmetic
        unnormalised = [(logit - top).clamp(min=-60.0).exp() for logit in logits]
        x0 = sum(p * c for p, c in zip(unnormalised, atoms)) / sum(unnormalised)
        return (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)

    return CountingDenoiser(fn)


def gaussian_ode_reference(
    schedule: NoiseSchedule, x_T: torch.Tensor, mu: float, s: float, t_last: int
) -> torch.Tensor:
    """Exact probability-flow ODE from ``t = T - 1`` to ``t_last``, then ``E[x0 | x_{t_last}]``."""
    ab_T = float(schedule.alphas_cumprod[-1])
    ab = float(schedule.alphas_cumprod[t_last])
    z = (x_T - math.sqrt(ab_T) * mu) / math.sqrt(ab_T * s * s + 1 - ab_T)
    return mu + math.sqrt(ab) * s * s * z / math.sqrt(ab * s * s + 1 - ab)


def affine_fit(x_in: torch.Tensor, x_out: torch.Tensor) -> tuple[float, float, float]:
    """Least-squares ``x_out = a x_in + b`` over all elements; returns ``(a, b, max residual)``."""
    xi, xo = x_in.flatten(), x_out.flatten()
    design = torch.stack([xi, torch.ones_like(xi)], dim=1)
    (a, b) = torch.linalg.lstsq(design, xo[:, None]).solution.flatten().tolist()
    return a, b, float((xo - (a * xi + b)).abs().max())



class _ScriptedNoise:
    """Stand-in for ``randn_like``: zeros, or a one at sample ``k`` for the ``k``-th draw."""

    def __init__(self, one_hot: bool) -> None:
        self.one_hot = one_hot
        self.draws = 0

    def __call__(self, x: torch.Tensor, generator: object = None) -> torch.Tensor:
        z = torch.zeros_like(x)
        if self.one_hot:
            z[self.draws] = 1.0
        self.draws += 1
        return z


def exact_output_moments(
    monkeypatch: pytest.MonkeyPatch,
    sampler: Callable[..., torch.Tensor],
    denoiser: CountingDenoiser,
    schedule: NoiseSchedule,
    steps: int | None,
    **kw: object,
) -> tuple[float, float]:
    """Exact mean and std of a sampler's output when ``x_T ~ N(0, 1)`` and the denoiser is linear (Gaussian data).

    The output is then ``a x_T + b + sum_k c_k z_k`` for the per-step noises ``z_k``. One run with zero noise
    on ``x_T = (0, 1)`` gives ``a`` and ``b``; one run on ``x_T = 0`` where sample ``k`` receives a one at
    draw ``k`` (zeros elsewhere) gives every ``c_k`` at once. Mean ``b``, variance ``a^2 + sum_k c_k^2``.
    """
    import monai_synth.diffusion.samplers as samplers_module

    zeros = _ScriptedNoise(one_hot=False)
    monkeypatch.setattr(samplers_module, "randn_like", zeros)
    x01 = torch.tensor([0.0, 1.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    out = sampler(denoiser, x01, schedule, steps, **kw).flatten()
    b, a = float(out[0]), float(out[1] - out[0])
    variance = a * a
    if zeros.draws:
        monkeypatch.setattr(samplers_module, "randn_like", _ScriptedNoise(one_hot=True))
        x0 = torch.zeros(zeros.draws, 1, 1, 1, dtype=torch.float64)
        variance += float(((sampler(denoiser, x0, schedule, steps, **kw).flatten() - b) ** 2).sum())
    monkeypatch.setattr(samplers_module, "randn_like", randn_like)
    return b, math.sqrt(variance)
