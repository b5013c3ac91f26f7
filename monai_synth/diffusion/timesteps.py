"""Which training timesteps a sampler visits ("timestep spacing").

Every spacing returns ``steps`` distinct training timesteps in decreasing order; a sampler evaluates the
denoiser once at each and then steps to the next one, and from the last one to clean data.

- ``"leading"``: ``t_i = i * (T // steps)`` (DDIM paper, diffusers "leading"). Ends at ``t = 0`` but starts
  below ``T - 1``, so the first input is not pure noise (Lin et al. 2024).
- ``"trailing"``: ``t_i = round(T - i * T / steps) - 1`` (Lin et al. 2024, diffusers "trailing"). Starts at
  ``T - 1``; ends at ``round(T / steps) - 1``.
- ``"linspace"``: ``round(linspace(T - 1, 0, steps))``: both ends (Medfusion's code truncates instead).
- ``"logsnr"``: uniform in the log signal-to-noise ratio ``lambda_t = log(sqrt(ab_t / (1 - ab_t)))``
  between ``t = T - 1`` and ``t = 0``, each target snapped to the training timestep with the nearest
  ``lambda`` (DPM-Solver's recommended "logSNR" spacing, Lu et al. 2022). Dense near ``t = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from monai_synth.diffusion.edm import EDMSchedule, edm_timesteps
from monai_synth.diffusion.flow import FlowSchedule, flow_timesteps

__all__ = ["make_timesteps", "SPACINGS", "DEFAULT_SPACINGS", "log_snr", "default_timesteps", "check_timesteps",
           "samplers_for"]

SPACINGS = ("leading", "trailing", "linspace", "logsnr")
# each discrete-time sampler's default spacing (the only copy: the samplers read it from here)
DEFAULT_SPACINGS = {"ddpm": "trailing", "ddim": "trailing", "dpmpp_2m": "logsnr"}
FLOW_SAMPLERS = ("euler", "heun")
EDM_SAMPLERS = ("edm_euler", "edm_heun")


def log_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Half log signal-to-noise ratio ``lambda = log(alpha / sigma)`` in float64."""
    ab = alphas_cumprod.detach().double().cpu()
    return 0.5 * (torch.log(ab) - torch.log1p(-ab))


def _strictly_decreasing(candidates: list[int]) -> list[int]:
    """Make snapped timesteps distinct and decreasing while keeping room for the ones after them."""
    n, out = len(candidates), []
    for i, t in enumerate(candidates):
        t = max(t, n - 1 - i)
        if out:
            t = min(t, out[-1] - 1)
        out.append(t)
    return out


def _logsnr_spacing(alphas_cumprod: torch.Tensor, steps: int) -> list[int]:
    """Timesteps uniform in log-SNR between ``t = T - 1`` and ``t = 0``."""
    lam = log_snr(alphas_cumprod)
    targets = torch.linspace(float(lam[-1]), float(lam[0]), steps, dtype=torch.float64)
    nearest = (lam[None, :] - targets[:, None]).abs().argmin(dim=1)
    return [int(t) for t in nearest]


def make_timesteps(alphas_cumprod: torch.Tensor, steps: int, spacing: str = "trailing") -> list[int]:
    """Decreasing training timesteps for a sampler with ``steps`` denoiser evaluations.

    Args:
        alphas_cumprod: the schedule's ``alphas_cumprod`` (length ``T``).
        steps: number of timesteps, ``1 <= steps <= T``.
        spacing: one of ``"leading"``, ``"trailing"``, ``"linspace"``, ``"logsnr"`` (see module docstring).

    Returns:
        ``steps`` distinct ints in ``[0, T - 1]``, decreasing.

    Raises:
        ValueError: on an unknown spacing or ``steps`` outside ``[1, T]``.
    """
    num_train = int(alphas_cumprod.shape[0])
    if not 1 <= steps <= num_train:
        raise ValueError(f"steps must be in [1, {num_train}] for this schedule, got {steps}.")
    if spacing == "leading":
        ratio = num_train // steps
        grid = [i * ratio for i in reversed(range(steps))]
    elif spacing == "trailing":
        grid = [round(num_train - i * num_train / steps) - 1 for i in range(steps)]
    elif spacing == "linspace":
        grid = [int(t) for t in torch.linspace(num_train - 1, 0, steps, dtype=torch.float64).round()]
    elif spacing == "logsnr":
        grid = _logsnr_spacing(alphas_cumprod, steps)
    else:
        raise ValueError(f"Unknown timestep spacing {spacing!r}; expected one of {SPACINGS}.")
    return _strictly_decreasing(grid)


def samplers_for(schedule) -> tuple[str, ...]:
    """The samplers that fit a schedule: DDPM, rectified-flow or EDM ones."""
    if isinstance(schedule, FlowSchedule):
        return FLOW_SAMPLERS
    if isinstance(schedule, EDMSchedule):
        return EDM_SAMPLERS
    return tuple(DEFAULT_SPACINGS)


def default_timesteps(
    sampler: str,
    schedule,
    steps: int,
    start: float | None = None,
    spatial_shape: Sequence[int] | None = None,
) -> list:
    """The timesteps ``sample_<sampler>`` visits by default, optionally starting below pure noise.

    Partial sampling (SDEdit; Med-cDiff's ``strength``) is this list with ``start`` below ``T``: ``steps``
    timesteps on ``[start, 0]``, with the sampler's own spacing.

    Args:
        sampler: ``"ddpm"``, ``"ddim"``, ``"dpmpp_2m"`` (DDPM schedules), ``"euler"``, ``"heun"`` (flow) or
            ``"edm_euler"``, ``"edm_heun"`` (EDM).
        schedule: a ``NoiseSchedule``, ``FlowSchedule`` or ``EDMSchedule``.
        steps: number of timesteps (at most ``start + 1`` for a DDPM schedule).
        start: first timestep (DDPM: an integer in ``[0, T - 1]``, default ``T - 1``; flow: in ``(0, T]``,
            default ``T``; EDM: a network time ``ln(sigma) / 4``, default that of ``sigma_max``).
        spatial_shape: the sample's spatial shape (a flow schedule's resolution-dependent shift).

    Raises:
        ValueError: on an unknown sampler, or one that does not fit the schedule's kind.
    """
    known = (*DEFAULT_SPACINGS, *FLOW_SAMPLERS, *EDM_SAMPLERS)
    if sampler not in known:
        raise ValueError(f"Unknown sampler {sampler!r}; expected one of {known}.")
    fits = samplers_for(schedule)
    if sampler not in fits:
        raise ValueError(f"sampler {sampler!r} does not fit a {schedule.kind!r} schedule; use one of {fits}.")
    if isinstance(schedule, FlowSchedule):
        return flow_timesteps(schedule, steps, spatial_shape, start)
    if isinstance(schedule, EDMSchedule):
        return edm_timesteps(schedule, steps, start)
    ab = schedule.alphas_cumprod if start is None else schedule.alphas_cumprod[: int(start) + 1]
    return make_timesteps(ab, steps, DEFAULT_SPACINGS[sampler])


def check_timesteps(timesteps: Sequence[float], high: float, low: float = 0.0) -> list:
    """``timesteps`` as a list, after checking it is non-empty, strictly decreasing and within ``[low, high]``.

    Raises:
        ValueError: naming the offending list.
    """
    ts = [t.item() if isinstance(t, torch.Tensor) else t for t in timesteps]
    if not ts or any(a <= b for a, b in zip(ts, ts[1:])) or ts[0] > high or ts[-1] < low:
        raise ValueError(f"timesteps must be a non-empty, strictly decreasing list within [{low}, {high}], got {ts}.")
    return ts
