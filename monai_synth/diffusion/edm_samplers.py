"""Samplers of the EDM objective (:class:`~monai_synth.diffusion.edm.EDMSchedule`), as pure functions.

Same signature as the other samplers, over the preconditioned network ``denoiser(x_in, t) -> F`` that takes
the network's input ``x_in = c_in x`` and time ``t = ln(sigma) / 4`` (a float tensor ``(B,)``)::

    sample_xxx(denoiser, x_T, schedule, steps, generator=None, callback=None, progress=False, clip_x0=None,
               *, timesteps=None)

``x_T`` is the network's input at the first time, as ``schedule.add_noise`` makes it: unit Gaussian noise for
sampling from pure noise. The samplers integrate EDM's probability-flow ODE ``dx/dsigma = (x - D(x; sigma)) /
sigma`` over the noise levels of ``timesteps`` (default: ``steps`` of EDM's eq. 5, see
:func:`~monai_synth.diffusion.edm.edm_timesteps`) down to ``sigma = 0``. Deterministic (EDM's Algorithm 1
without churn).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from monai_synth.diffusion.edm import EDMSchedule, edm_timesteps
from monai_synth.diffusion.utils import clip_prediction

__all__ = ["sample_edm_euler", "sample_edm_heun"]

PreconditionedModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[dict[str, Any]], None]
ClipX0 = float | tuple[float, float] | None


def _plan(schedule: EDMSchedule, steps: int, timesteps: Sequence[float] | None, name: str) -> list[float]:
    """The noise levels to visit followed by the final ``0.0``."""
    if not isinstance(schedule, EDMSchedule):
        raise ValueError(f"sample_{name} needs an EDM schedule (kind 'edm'), got a "
                         f"{getattr(schedule, 'kind', type(schedule).__name__)!r} schedule.")
    ts = edm_timesteps(schedule, steps) if timesteps is None else [float(t) for t in timesteps]
    if not ts or any(a <= b for a, b in zip(ts, ts[1:])):
        raise ValueError(f"timesteps must be a non-empty, strictly decreasing list, got {ts}.")
    return [float(schedule.sigma(t)) for t in ts] + [0.0]


def _visit(sigmas: list[float], progress: bool, name: str) -> Iterator[tuple[int, float, float]]:
    """Yield ``(i, sigma, sigma_next)`` over consecutive noise levels."""
    for i in tqdm(range(len(sigmas) - 1), desc=name, disable=not progress):
        yield i, sigmas[i], sigmas[i + 1]


def _slope(
    denoiser: PreconditionedModel, schedule: EDMSchedule, x: torch.Tensor, sigma: float, clip_x0: ClipX0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``dx/dsigma = (x - D) / sigma`` at ``(x, sigma)`` and the denoised estimate ``D`` (clamped with ``clip_x0``)."""
    s = torch.tensor(sigma, dtype=torch.float64)
    x_in = float(schedule.c_in(s)) * x
    t = torch.full((x.shape[0],), schedule.time(sigma), dtype=torch.float32, device=x.device)
    out = denoiser(x_in, t)
    if out.shape != x.shape:
        raise ValueError(f"denoiser returned shape {tuple(out.shape)} for input shape {tuple(x.shape)}.")
    x0 = schedule.denoised(x, sigma, out)
    if clip_x0 is not None:
        x0 = clip_prediction(x0, clip_x0)
    return (x - x0) / sigma, x0


def _start(schedule: EDMSchedule, x_T: torch.Tensor, sigma: float) -> torch.Tensor:
    """The noised data ``x = x_T / c_in(sigma)`` behind the network input ``x_T``."""
    return x_T / float(schedule.c_in(torch.tensor(sigma, dtype=torch.float64)))


def sample_edm_euler(
    denoiser: PreconditionedModel,
    x_T: torch.Tensor,
    schedule: EDMSchedule,
    steps: int = 30,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    timesteps: Sequence[float] | None = None,
) -> torch.Tensor:
    """Euler's method on EDM's ODE: ``x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (x_i - D(x_i; sigma_i)) / sigma_i``.

    Args:
        denoiser: ``denoiser(c_in x, t) -> F``, the preconditioned network.
        x_T: the network input at the first time (unit noise for sampling from pure noise), ``(B, C, H, W)``.
        schedule: the training ``EDMSchedule``.
        steps: number of denoiser evaluations (default times).
        generator: unused (the sampler is deterministic); accepted for the common signature.
        callback: called each step with ``dict(i, t, x, x0_pred)`` (``t``: the network time).
        progress: show a tqdm bar.
        clip_x0: clamp the denoised estimate (see :func:`clip_prediction`).
        timesteps: the decreasing network times to visit; when given, ``steps`` is unused.

    Returns:
        The sample at ``sigma = 0``, same shape as ``x_T``.
    """
    del generator
    sigmas = _plan(schedule, steps, timesteps, "edm_euler")
    x = _start(schedule, x_T, sigmas[0])
    for i, sigma, sigma_next in _visit(sigmas, progress, "EDM Euler"):
        d, x0 = _slope(denoiser, schedule, x, sigma, clip_x0)
        if callback is not None:
            callback({"i": i, "t": schedule.time(sigma), "x": x, "x0_pred": x0})
        x = x + (sigma_next - sigma) * d
    return x


def sample_edm_heun(
    denoiser: PreconditionedModel,
    x_T: torch.Tensor,
    schedule: EDMSchedule,
    steps: int = 18,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    timesteps: Sequence[float] | None = None,
) -> torch.Tensor:
    """EDM's deterministic sampler (Karras et al. 2022, Algorithm 1 without churn).

    An Euler step to ``sigma_{i+1}``, then the trapezoidal correction with the slope there; the last step, to
    ``sigma = 0``, stays first order. ``2 * len(timesteps) - 1`` denoiser evaluations (EDM: 18 levels, 35
    evaluations).

    Args:
        denoiser: ``denoiser(c_in x, t) -> F``, the preconditioned network.
        x_T: the network input at the first time (unit noise for sampling from pure noise).
        schedule: the training ``EDMSchedule``.
        steps: number of noise levels (default times).
        generator: unused (the sampler is deterministic); accepted for the common signature.
        callback: called each step with ``dict(i, t, x, x0_pred)``.
        progress: show a tqdm bar.
        clip_x0: clamp the denoised estimate.
        timesteps: the decreasing network times to visit; when given, ``steps`` is unused.

    Returns:
        The sample at ``sigma = 0``, same shape as ``x_T``.
    """
    del generator
    sigmas = _plan(schedule, steps, timesteps, "edm_heun")
    x = _start(schedule, x_T, sigmas[0])
    for i, sigma, sigma_next in _visit(sigmas, progress, "EDM Heun"):
        d, x0 = _slope(denoiser, schedule, x, sigma, clip_x0)
        if callback is not None:
            callback({"i": i, "t": schedule.time(sigma), "x": x, "x0_pred": x0})
        x_euler = x + (sigma_next - sigma) * d
        if sigma_next > 0:
            d_next, _ = _slope(denoiser, schedule, x_euler, sigma_next, clip_x0)
            x = x + (sigma_next - sigma) * 0.5 * (d + d_next)
        else:
            x = x_euler
    return x
