"""Rectified flow (Liu et al. 2023; Esser et al. 2024, "SD3") with the conventions of MONAI's ``RFlowScheduler``.

Time runs in training units ``t`` in ``[0, T]`` (``T = num_steps``, MONAI's ``num_train_timesteps``), with
``s = t / T``. The forward process is the straight line

    x_t = (1 - s) x0 + s noise          (t = 0: data; t = T: pure noise)

and the network predicts the velocity ``v = x0 - noise`` (MONAI's sign: the training target is
``inputs - noise``), so a sampler moves towards the data with ``x_{t'} = x_t + (t - t') / T * v``.

Training timesteps are ``s ~ U(0, 1)`` or logit-normal ``s = sigmoid(N(loc, scale^2))`` (SD3, sec. 3.1),
then optionally shifted by ``s' = r s / (1 + (r - 1) s)`` (MONAI's ``timestep_transform``; SD3's
resolution-dependent shift), where ``r = shift * (numel / base_img_size_numel) ** (1 / spatial_dims)`` when
``base_img_size_numel`` is given and ``r = shift`` otherwise. The sampling timesteps get the same shift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from monai_synth.diffusion.utils import append_dims

__all__ = ["FlowSchedule", "SAMPLE_METHODS", "shift_timesteps", "flow_timesteps"]

SAMPLE_METHODS = ("uniform", "logit-normal")


def shift_timesteps(s: torch.Tensor, ratio: float) -> torch.Tensor:
    """``r s / (1 + (r - 1) s)`` on fractions ``s`` in ``[0, 1]``: ``r > 1`` spends more time at high noise."""
    return ratio * s / (1.0 + (ratio - 1.0) * s)


class FlowSchedule(nn.Module):
    """A rectified-flow "schedule": the straight path from data to noise, its velocity and its timesteps.

    It holds no tensors (the path is analytic); it is a module only so that ``.to(device)`` works as for
    :class:`~monai_synth.diffusion.schedules.NoiseSchedule`. The defaults are ``RFlowScheduler``'s; SD3 and
    MAISI train with ``sample_method="logit-normal"``.

    Args:
        num_steps: ``T``, the time scale the network sees (MONAI's ``num_train_timesteps``; 1000).
        sample_method: training timesteps, ``"uniform"`` or ``"logit-normal"`` (MONAI's names).
        loc / scale: mean and standard deviation of the normal variable behind the logit-normal draw.
        use_discrete_timesteps: integer training timesteps ``floor(s T)`` in ``[0, T - 1]`` before the shift
            (MONAI's default is True), and sampling timesteps rounded to integers.
        shift: constant factor of the timestep shift ratio (1 = no shift; SD3 uses 3 at 1024 px).
        base_img_size_numel: reference number of pixels/voxels for the resolution-dependent shift
            (MONAI's ``use_timestep_transform=True`` with ``base_img_size_numel``); None: no resolution term.

    Raises:
        ValueError: on an unknown ``sample_method``, ``num_steps < 1``, ``scale <= 0`` or ``shift <= 0``.
    """

    kind = "rectified_flow"
    predictions = ("velocity",)

    def __init__(
        self,
        num_steps: int = 1000,
        sample_method: str = "uniform",
        loc: float = 0.0,
        scale: float = 1.0,
        use_discrete_timesteps: bool = True,
        shift: float = 1.0,
        base_img_size_numel: int | None = None,
    ) -> None:
        super().__init__()
        if sample_method not in SAMPLE_METHODS:
            raise ValueError(f"Unknown sample_method {sample_method!r}; expected one of {SAMPLE_METHODS}.")
        if num_steps < 1 or scale <= 0 or shift <= 0:
            raise ValueError(f"num_steps, scale and shift must be positive, got {num_steps}, {scale}, {shift}.")
        if base_img_size_numel is not None and base_img_size_numel < 1:
            raise ValueError(f"base_img_size_numel must be a positive number of pixels, got {base_img_size_numel}.")
        self.num_steps, self.sample_method = int(num_steps), sample_method
        self.loc, self.scale, self.shift = float(loc), float(scale), float(shift)
        self.use_discrete_timesteps, self.base_img_size_numel = bool(use_discrete_timesteps), base_img_size_numel

    def shift_ratio(self, spatial_shape: Sequence[int] | None = None) -> float:
        """The shift ratio ``r`` for inputs of this spatial shape (see the module docstring)."""
        if self.base_img_size_numel is None:
            return self.shift
        if spatial_shape is None:
            raise ValueError("this flow schedule shifts timesteps by resolution: pass the input's spatial_shape.")
        numel = math.prod(int(n) for n in spatial_shape)
        return self.shift * (numel / self.base_img_size_numel) ** (1.0 / len(spatial_shape))

    def _fraction(self, t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
        """``s = t / T`` shaped to broadcast against ``like``, in its dtype."""
        t = torch.as_tensor(t, device=like.device)
        return append_dims(t.to(like.dtype).reshape(-1) / self.num_steps, like.ndim)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """The point of the path at ``t``: ``(1 - s) x0 + s noise``."""
        s = self._fraction(t, x0)
        return (1.0 - s) * x0 + s * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
        """The training target ``v = x0 - noise`` (the same for every ``t``; ``t`` for the common signature)."""
        del t
        return x0 - noise

    def predict_x0_from_velocity(self, x_t: torch.Tensor, t: torch.Tensor | float, v: torch.Tensor) -> torch.Tensor:
        """Clean sample implied by a velocity: ``x_t + s v``."""
        return x_t + self._fraction(t, x_t) * v

    def predict_noise_from_x0(self, x_t: torch.Tensor, t: torch.Tensor | float, x0: torch.Tensor) -> torch.Tensor:
        """Noise implied by a clean-sample prediction: ``(x_t - (1 - s) x0) / s`` (``t > 0``)."""
        s = self._fraction(t, x_t)
        return (x_t - (1.0 - s) * x0) / s

    def snr(self, t: torch.Tensor | float) -> torch.Tensor:
        """Signal-to-noise ratio ``((1 - s) / s)^2``, float32 (infinite at ``t = 0``)."""
        s = torch.as_tensor(t, dtype=torch.float64) / self.num_steps
        return ((1.0 - s) / s).square().float()

    def sample_timesteps(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        spatial_shape: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Training timesteps in ``[0, T)``, float32, drawn as MONAI's ``RFlowScheduler.sample_timesteps``.

        Args:
            batch: number of timesteps.
            generator: source of randomness (drawn on its own device); ``None`` uses the global generator.
            device: device of the returned tensor (default: the generator's, else CPU).
            spatial_shape: the input's spatial shape (needed with ``base_img_size_numel``).
        """
        draw_on = generator.device if generator is not None else (device or "cpu")
        if self.sample_method == "uniform":
            s = torch.rand((batch,), generator=generator, device=draw_on, dtype=torch.float32)
        else:
            z = torch.randn((batch,), generator=generator, device=draw_on, dtype=torch.float32)
            s = torch.sigmoid(self.loc + self.scale * z)
        t = s * self.num_steps
        if self.use_discrete_timesteps:
            t = t.floor()
        t = shift_timesteps(t / self.num_steps, self.shift_ratio(spatial_shape)) * self.num_steps
        return t.to(device or draw_on)


def flow_timesteps(
    schedule: FlowSchedule, steps: int, spatial_shape: Sequence[int] | None = None, start: float | None = None
) -> list[float]:
    """Decreasing sampling timesteps ``t_i``, from ``start`` (default ``T``: pure noise) down to above 0.

    As MONAI's ``RFlowScheduler.set_timesteps``: ``t_i = (1 - i / steps) * start`` for ``i < steps``, then the
    schedule's shift; a sampler steps from the last one to ``t = 0``. With ``use_discrete_timesteps`` the
    values are rounded to integers after the shift (MONAI rounds before the shift, then casts to float16
    and truncates; without a shift both give the same integers).

    Raises:
        ValueError: if ``steps < 1`` or ``start`` outside ``(0, T]``.
    """
    start = float(schedule.num_steps if start is None else start)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    if not 0.0 < start <= schedule.num_steps:
        raise ValueError(f"start must be in (0, {schedule.num_steps}], got {start}.")
    s = torch.tensor([(1.0 - i / steps) * start / schedule.num_steps for i in range(steps)], dtype=torch.float64)
    t = shift_timesteps(s, schedule.shift_ratio(spatial_shape)) * schedule.num_steps
    if schedule.use_discrete_timesteps:
        t = t.round()
    return [float(v) for v in t]
