"""Samplers of rectified flow (:class:`~monai_synth.diffusion.flow.FlowSchedule`), as pure functions.

Same signature as the DDPM samplers of :mod:`monai_synth.diffusion.samplers`, over a velocity model
``denoiser(x_t, t) -> v`` that takes ``t`` as a float tensor ``(B,)`` in training units ``[0, T]``::

    sample_xxx(denoiser, x_T, schedule, steps, generator=None, callback=None, progress=False, clip_x0=None,
               *, timesteps=None)

They integrate the ODE ``dx/dt = -v(x, t) / T`` from the first timestep (``T``: pure noise) down to
``t = 0`` over the explicit, decreasing list ``timesteps`` (default: ``steps`` of them as MONAI's
``RFlowScheduler.set_timesteps``, see :func:`~monai_synth.diffusion.flow.flow_timesteps`). Deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from monai_synth.diffusion.flow import FlowSchedule, flow_timesteps
from monai_synth.diffusion.timesteps import check_timesteps
from monai_synth.diffusion.utils import clip_prediction

__all__ = ["sample_euler", "sample_heun"]

VelocityModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[dict[str, Any]], None]
ClipX0 = float | tuple[float, float] | None


def _plan(schedule: FlowSchedule, steps: int, timesteps: Sequence[float] | None, x_T: torch.Tensor, name: str) -> list:
    """The timesteps to visit followed by the final ``0.0``."""
    if not isinstance(schedule, FlowSchedule):
        raise ValueError(f"sample_{name} needs a rectified-flow schedule (kind 'rectified_flow'), got a "
                         f"{getattr(schedule, 'kind', type(schedule).__name__)!r} schedule.")
    if timesteps is None:
        ts = flow_timesteps(schedule, steps, x_T.shape[2:])
    else:
        ts = check_timesteps(timesteps, schedule.num_steps)
    if ts[-1] <= 0:
        raise ValueError(f"the last timestep must be above 0 (the sampler steps from it to 0), got {ts}.")
    return [float(t) for t in ts] + [0.0]


def _visit(ts: list, progress: bool, name: str) -> Iterator[tuple[int, float, float]]:
    """Yield ``(i, t, t_next)`` over consecutive timesteps."""
    for i in tqdm(range(len(ts) - 1), desc=name, disable=not progress):
        yield i, ts[i], ts[i + 1]


def _velocity(
    denoiser: VelocityModel, schedule: FlowSchedule, x: torch.Tensor, t: float, clip_x0: ClipX0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Velocity at ``(x, t)`` and the clean sample it implies; with ``clip_x0`` the velocity is recomputed
    from the clamped clean sample and the noise that it and ``x`` imply (as DDIM recomputes eps), so that a step
    to ``t = 0`` lands on the clamped sample."""
    v = denoiser(x, torch.full((x.shape[0],), t, dtype=torch.float32, device=x.device))
    if v.shape != x.shape:
        raise ValueError(f"denoiser returned shape {tuple(v.shape)} for input shape {tuple(x.shape)}.")
    x0 = schedule.predict_x0_from_velocity(x, t, v)
    if clip_x0 is not None:
        x0 = clip_prediction(x0, clip_x0)
        v = x0 - schedule.predict_noise_from_x0(x, t, x0)
    return v, x0


def sample_euler(
    denoiser: VelocityModel,
    x_T: torch.Tensor,
    schedule: FlowSchedule,
    steps: int = 30,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    timesteps: Sequence[float] | None = None,
) -> torch.Tensor:
    """Euler's method on the rectified-flow ODE (MONAI's ``RFlowScheduler.step``)::

        x_{t_{i+1}} = x_{t_i} + (t_i - t_{i+1}) / T * v(x_{t_i}, t_i)

    Args:
        denoiser: ``denoiser(x_t, t) -> v``, the velocity ``x0 - noise``.
        x_T: the sample at the first timestep (pure noise when it is ``T``), ``(B, C, H, W)`` or 3D.
        schedule: the training ``FlowSchedule``.
        steps: number of denoiser evaluations (default timesteps).
        generator: unused (the sampler is deterministic); accepted for the common signature.
        callback: called each step with ``dict(i, t, x, x0_pred)``.
        progress: show a tqdm bar.
        clip_x0: clamp the predicted clean sample (see :func:`clip_prediction`).
        timesteps: the decreasing timesteps in ``(0, T]`` to visit; when given, ``steps`` is unused.

    Returns:
        The sample at ``t = 0``, same shape and dtype as ``x_T``.
    """
    del generator
    ts = _plan(schedule, steps, timesteps, x_T, "euler")
    x = x_T
    for i, t, t_next in _visit(ts, progress, "Euler"):
        v, x0 = _velocity(denoiser, schedule, x, t, clip_x0)
        if callback is not None:
            callback({"i": i, "t": t, "x": x, "x0_pred": x0})
        x = x + (t - t_next) / schedule.num_steps * v
    return x


def sample_heun(
    denoiser: VelocityModel,
    x_T: torch.Tensor,
    schedule: FlowSchedule,
    steps: int = 15,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    timesteps: Sequence[float] | None = None,
) -> torch.Tensor:
    """Heun's second-order method (Karras et al. 2022, "EDM", Algorithm 1 without churn).

    An Euler step to ``t_{i+1}``, then the trapezoidal correction with the velocity there; the last step, to
    ``t = 0``, stays first order (as EDM's). ``2 * len(timesteps) - 1`` denoiser evaluations.

    Args:
        denoiser: ``denoiser(x_t, t) -> v``, the velocity ``x0 - noise``.
        x_T: the sample at the first timestep (pure noise when it is ``T``).
        schedule: the training ``FlowSchedule``.
        steps: number of timesteps (default timesteps).
        generator: unused (the sampler is deterministic); accepted for the common signature.
        callback: called each step with ``dict(i, t, x, x0_pred)``.
        progress: show a tqdm bar.
        clip_x0: clamp the predicted clean sample.
        timesteps: the decreasing timesteps in ``(0, T]`` to visit; when given, ``steps`` is unused.

    Returns:
        The sample at ``t = 0``, same shape and dtype as ``x_T``.
    """
    del generator
    ts = _plan(schedule, steps, timesteps, x_T, "heun")
    x = x_T
    for i, t, t_next in _visit(ts, progress, "Heun"):
        v, x0 = _velocity(denoiser, schedule, x, t, clip_x0)
        if callback is not None:
            callback({"i": i, "t": t, "x": x, "x0_pred": x0})
        dt = (t - t_next) / schedule.num_steps
        x_euler = x + dt * v
        if t_next > 0:
            v_next, _ = _velocity(denoiser, schedule, x_euler, t_next, clip_x0)
            x = x + dt * 0.5 * (v + v_next)
        else:
            x = x_euler
    return x
