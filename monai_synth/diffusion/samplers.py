"""Samplers for discrete-time eps-prediction diffusion models, as small pure functions over a denoiser.

All samplers share one signature (after k-diffusion's ``sampling.py`` and NVlabs/edm's ``edm_sampler``)::

    sample_xxx(denoiser, x_T, schedule, steps, generator=None, callback=None, progress=False, clip_x0=None,
               *, timesteps=None, **kw)

where ``denoiser(x_t, t) -> eps`` takes ``t`` as a LongTensor ``(B,)`` of training timesteps. A sampler
visits an explicit, decreasing list of ``timesteps`` (by default ``steps`` of them with the sampler's
spacing, see :func:`~monai_synth.diffusion.timesteps.default_timesteps`; partial sampling is a list that
starts lower), evaluates the denoiser once at each, and steps from the last one to clean data
(``alphas_cumprod = 1``). Randomness comes only from ``generator``; call under ``torch.no_grad()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from monai_synth.diffusion.schedules import NoiseSchedule
from monai_synth.diffusion.timesteps import DEFAULT_SPACINGS, check_timesteps, log_snr, make_timesteps
from monai_synth.diffusion.utils import clip_prediction, randn_like

__all__ = ["Denoiser", "sample_ddpm", "sample_ddim", "sample_dpmpp_2m", "DDPM_VARIANCES"]

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[dict[str, Any]], None]
ClipX0 = float | tuple[float, float] | None
Generators = torch.Generator | Sequence[torch.Generator] | None
DDPM_VARIANCES = ("beta", "posterior")


def _plan(
    schedule: NoiseSchedule, steps: int, spacing: str | None, timesteps: Sequence[int] | None, sampler: str
) -> list[int]:
    """The timesteps to visit: the explicit list when given (checked), else ``steps`` of them by ``spacing``."""
    if not isinstance(schedule, NoiseSchedule):
        kind = getattr(schedule, "kind", type(schedule).__name__)
        raise ValueError(f"sample_{sampler} needs a DDPM NoiseSchedule, got a {kind!r} schedule "
                         "(rectified flow samples with sample_euler / sample_heun).")
    if timesteps is not None:
        ts = check_timesteps(timesteps, schedule.num_steps - 1)
        if any(int(t) != t for t in ts):
            raise ValueError(f"timesteps of a DDPM schedule must be integers, got {ts}.")
        return [int(t) for t in ts]
    return make_timesteps(schedule.alphas_cumprod, steps, DEFAULT_SPACINGS[sampler] if spacing is None else spacing)


def _visit(timesteps: list[int], progress: bool, name: str) -> Iterator[tuple[int, int, int]]:
    """Yield ``(i, t, s)``: step index, current timestep and next one (``-1`` means clean data)."""
    following = timesteps[1:] + [-1]
    for i in tqdm(range(len(timesteps)), desc=name, disable=not progress):
        yield i, timesteps[i], following[i]


def _predict_eps(denoiser: Denoiser, x: torch.Tensor, t: int) -> torch.Tensor:
    """Call the denoiser with a batch of identical timesteps and check its output shape."""
    eps = denoiser(x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
    if eps.shape != x.shape:
        raise ValueError(f"denoiser returned shape {tuple(eps.shape)} for input shape {tuple(x.shape)}.")
    return eps


def _predict_x0(x: torch.Tensor, eps: torch.Tensor, ab_t: float) -> torch.Tensor:
    """Clean sample implied by a noise prediction at cumulative alpha ``ab_t``."""
    return (x - math.sqrt(1.0 - ab_t) * eps) / math.sqrt(ab_t)


def _report(callback: Callback | None, i: int, t: int, x: torch.Tensor, x0: torch.Tensor) -> None:
    if callback is not None:
        callback({"i": i, "t": t, "x": x, "x0_pred": x0})


def _cumulative_alphas(schedule: NoiseSchedule) -> list[float]:
    """``alphas_cumprod`` as Python floats (float64, no device syncs in the loop); index -1 is clean data."""
    return [float(a) for a in schedule.alphas_cumprod.detach().double().cpu()] + [1.0]


def sample_ddpm(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    schedule: NoiseSchedule,
    steps: int | None = None,
    generator: Generators = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    variance: str = "beta",
    spacing: str | None = None,
    timesteps: Sequence[int] | None = None,
) -> torch.Tensor:
    """Ancestral sampling (Ho et al. 2020, Algorithm 2), on all ``T`` steps or a strided subset.

    From ``t`` to the next visited timestep ``s`` the step samples the Gaussian posterior
    ``q(x_s | x_t, x0_pred)`` of the respaced process with ``beta = 1 - ab_t / ab_s``
    (Nichol & Dhariwal 2021, sec. 4), with mean
    ``sqrt(ab_s) beta / (1 - ab_t) x0 + sqrt(1 - beta) (1 - ab_s) / (1 - ab_t) x_t`` and
    variance ``beta`` ("beta", DDPM's sigma_t^2 = beta_t) or ``beta (1 - ab_s) / (1 - ab_t)`` ("posterior").
    The last step returns the mean (no noise).

    Args:
        denoiser: ``denoiser(x_t, t) -> eps``.
        x_T: starting noise, shape ``(B, C, H, W)`` or ``(B, C, D, H, W)``.
        schedule: the training noise schedule.
        steps: number of denoiser evaluations; ``None`` means all ``T``.
        generator: source of the per-step noise: one generator, or one per sample (see :func:`randn_like`).
        callback: called each step with ``dict(i, t, x, x0_pred)``.
        progress: show a tqdm bar.
        clip_x0: clamp the predicted clean sample (see :func:`clip_prediction`).
        variance: ``"beta"`` or ``"posterior"``.
        spacing: timestep spacing when ``steps < T`` (default ``"trailing"``).
        timesteps: the decreasing training timesteps to visit; when given, ``steps`` and ``spacing`` are unused.

    Returns:
        The generated sample, same shape and dtype as ``x_T``.
    """
    if variance not in DDPM_VARIANCES:
        raise ValueError(f"Unknown DDPM variance {variance!r}; expected one of {DDPM_VARIANCES}.")
    ts = _plan(schedule, schedule.num_steps if steps is None else steps, spacing, timesteps, "ddpm")
    ab = _cumulative_alphas(schedule)
    x = x_T
    for i, t, s in _visit(ts, progress, "DDPM"):
        x0 = clip_prediction(_predict_x0(x, _predict_eps(denoiser, x, t), ab[t]), clip_x0)
        _report(callback, i, t, x, x0)
        beta = 1.0 - ab[t] / ab[s]
        x = (math.sqrt(ab[s]) * beta * x0 + math.sqrt(1.0 - beta) * (1.0 - ab[s]) * x) / (1.0 - ab[t])
        if s >= 0:
            var = beta if variance == "beta" else beta * (1.0 - ab[s]) / (1.0 - ab[t])
            x = x + math.sqrt(var) * randn_like(x, generator)
    return x


def sample_ddim(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    schedule: NoiseSchedule,
    steps: int = 150,
    generator: Generators = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    eta: float = 0.0,
    spacing: str | None = None,
    timesteps: Sequence[int] | None = None,
) -> torch.Tensor:
    """DDIM (Song, Meng & Ermon 2021, eq. 12).

    ``x_s = sqrt(ab_s) x0_pred + sqrt(1 - ab_s - sigma^2) eps + sigma z`` with
    ``sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s)`` (eq. 16). ``eta = 0`` is deterministic
    (a first-order solver of the probability-flow ODE); ``eta = 1`` is the Medfusion reference code's default.
    With ``clip_x0``, eps is recomputed from the clamped ``x0_pred`` (as OpenAI's guided-diffusion).

    Args:
        denoiser: ``denoiser(x_t, t) -> eps``.
        x_T: starting noise, shape ``(B, C, H, W)`` or ``(B, C, D, H, W)``.
        schedule: the training noise schedule.
        steps: number of denoiser evaluations.
        generator: source of the noise when ``eta > 0``: one generator, or one per sample.
        callback: called each step with ``dict(i, t, x, x0_pred)``.
        progress: show a tqdm bar.
        clip_x0: clamp the predicted clean sample.
        eta: stochasticity, ``>= 0``.
        spacing: timestep spacing (default ``"trailing"``).
        timesteps: the decreasing training timesteps to visit; when given, ``steps`` and ``spacing`` are unused.

    Returns:
        The generated sample, same shape and dtype as ``x_T``.
    """
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}.")
    ts = _plan(schedule, steps, spacing, timesteps, "ddim")
    ab = _cumulative_alphas(schedule)
    x = x_T
    for i, t, s in _visit(ts, progress, "DDIM"):
        eps = _predict_eps(denoiser, x, t)
        x0 = _predict_x0(x, eps, ab[t])
        if clip_x0 is not None:
            x0 = clip_prediction(x0, clip_x0)
            eps = (x - math.sqrt(ab[t]) * x0) / math.sqrt(1.0 - ab[t])
        _report(callback, i, t, x, x0)
        sigma = eta * math.sqrt((1.0 - ab[s]) / (1.0 - ab[t]) * (1.0 - ab[t] / ab[s]))
        x = math.sqrt(ab[s]) * x0 + math.sqrt(max(1.0 - ab[s] - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * randn_like(x, generator)
    return x


def sample_dpmpp_2m(
    denoiser: Denoiser,
    x_T: torch.Tensor,
    schedule: NoiseSchedule,
    steps: int = 20,
    generator: Generators = None,
    callback: Callback | None = None,
    progress: bool = False,
    clip_x0: ClipX0 = None,
    *,
    spacing: str | None = None,
    timesteps: Sequence[int] | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), data prediction, multistep.

    With ``alpha_t = sqrt(ab_t)``, ``sigma_t = sqrt(1 - ab_t)``, ``lambda_t = log(alpha_t / sigma_t)``,
    ``h = lambda_s - lambda_t`` and ``r = h_prev / h``::

        D   = (1 + 1 / (2 r)) x0_t - 1 / (2 r) x0_prev        (first step: D = x0_t)
        x_s = sigma_s / sigma_t * x_t - alpha_s * expm1(-h) * D

    The first step is first order (no previous ``x0``). The last step, to clean data (``lambda = inf``), is
    first order too ("lower_order_final"; a second-order step cannot reach ``lambda = inf``): it returns
    ``x0_pred`` at the last timestep. The default ``"logsnr"`` spacing (DPM-Solver's choice for low
    resolutions) ends at ``t = 0``, which keeps that last jump small; with ``"trailing"`` at 20 steps it
    ends at ``t = 49`` and smooths away detail, see docs/samplers.md for the measured errors.

    Args:
        denoiser: ``denoiser(x_t, t) -> eps``.
        x_T: starting noise, shape ``(B, C, H, W)`` or ``(B, C, D, H, W)``.
        schedule: the training noise schedule.
        steps: number of denoiser evaluations.
        generator: unused (the solver is deterministic); accepted for the common signature.
        callback: called each step with ``dict(i, t, x, x0_pred)``.
        progress: show a tqdm bar.
        clip_x0: clamp the predicted clean sample.
        spacing: timestep spacing (default ``"logsnr"``).
        timesteps: the decreasing training timesteps to visit; when given, ``steps`` and ``spacing`` are unused.

    Returns:
        The generated sample, same shape and dtype as ``x_T``.
    """
    del generator  # deterministic
    ts = _plan(schedule, steps, spacing, timesteps, "dpmpp_2m")
    ab = _cumulative_alphas(schedule)
    lam = [float(v) for v in log_snr(schedule.alphas_cumprod)]
    x, x0_prev, h_prev = x_T, None, 0.0
    for i, t, s in _visit(ts, progress, "DPM-Solver++(2M)"):
        x0 = clip_prediction(_predict_x0(x, _predict_eps(denoiser, x, t), ab[t]), clip_x0)
        _report(callback, i, t, x, x0)
        if s >= 0:
            h = lam[s] - lam[t]
            d = x0 if x0_prev is None else x0 + (x0 - x0_prev) * (h / (2.0 * h_prev))
            x = math.sqrt((1.0 - ab[s]) / (1.0 - ab[t])) * x - math.sqrt(ab[s]) * math.expm1(-h) * d
            x0_prev, h_prev = x0, h
    return x0
