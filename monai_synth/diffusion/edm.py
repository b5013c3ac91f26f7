"""EDM preconditioning (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative Models").

The data ``y`` is noised as ``x = y + sigma n`` with a continuous noise level ``sigma``. The network ``F`` does
not see ``x`` and ``sigma`` directly: its input, output and time are preconditioned (EDM, Table 1)::

    c_in    = 1 / sqrt(sigma^2 + sigma_data^2)        network input   c_in x
    c_noise = ln(sigma) / 4                           network time    t
    c_skip  = sigma_data^2 / (sigma^2 + sigma_data^2)
    c_out   = sigma sigma_data / sqrt(sigma^2 + sigma_data^2)
    D(x; sigma) = c_skip x + c_out F(c_in x; c_noise)  the denoised estimate

Training draws ``ln(sigma) ~ N(p_mean, p_std^2)`` and minimises ``lambda(sigma) |D - y|^2`` with
``lambda = 1 / c_out^2``, which is the plain mean squared error between ``F`` and its effective target
``(y - c_skip x) / c_out`` (EDM, eq. 8): every noise level weighs the same in the network's own units.

In this package's common schedule interface the *timestep* ``t`` is the network's time input ``c_noise``
(``sigma = exp(4 t)``), and ``add_noise`` returns the network's input ``c_in (y + sigma n)``, so a training
step is written as for the other schedules: ``unet(add_noise(z0, n, t), t)`` against ``target(z0, n, t)``.
With ``sigma_data = 1`` (unit-variance latents) the preconditioned target is ``-v`` of a variance-preserving
path with ``alpha = c_in``; what differs from v-prediction on a DDPM schedule is the noise-level distribution,
the continuous time and the range of noise levels (EDM: ``sigma`` up to 80 against about 14.6 for
``scaled_linear`` with T = 1000).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from monai_synth.diffusion.utils import append_dims

__all__ = ["EDMSchedule", "edm_timesteps"]


class EDMSchedule(nn.Module):
    """EDM's noise levels and preconditioning, as a schedule (``make_schedule(kind="edm")``).

    It holds no tensors; it is a module only so that ``.to(device)`` works as for the other schedules.

    Args:
        sigma_data: standard deviation of the data (EDM: 0.5 for images in [-1, 1]; 1 for latents scaled to unit
            variance, as the Medfusion bundle's are).
        p_mean / p_std: mean and standard deviation of ``ln(sigma)`` in training (EDM: -1.2 and 1.2).
        sigma_min / sigma_max: the range of noise levels a sampler visits (EDM: 0.002 and 80).
        rho: exponent of the sampling noise levels (EDM, eq. 5: 7).

    Raises:
        ValueError: on a non-positive ``sigma_data``, ``p_std``, ``sigma_min`` or ``rho``, or
            ``sigma_max <= sigma_min``.
    """

    kind = "edm"
    predictions = ("edm",)

    def __init__(
        self,
        sigma_data: float = 0.5,
        p_mean: float = -1.2,
        p_std: float = 1.2,
        sigma_min: float = 0.002,
        sigma_max: float = 80.0,
        rho: float = 7.0,
    ) -> None:
        super().__init__()
        if min(sigma_data, p_std, sigma_min, rho) <= 0 or sigma_max <= sigma_min:
            raise ValueError(
                "EDM needs sigma_data, p_std, sigma_min and rho > 0 and sigma_max > sigma_min, got "
                f"sigma_data={sigma_data}, p_std={p_std}, sigma_min={sigma_min}, sigma_max={sigma_max}, rho={rho}."
            )
        self.sigma_data, self.p_mean, self.p_std = float(sigma_data), float(p_mean), float(p_std)
        self.sigma_min, self.sigma_max, self.rho = float(sigma_min), float(sigma_max), float(rho)

    # ------------------------------------------------------------------ time <-> noise level
    @staticmethod
    def sigma(t: torch.Tensor | float) -> torch.Tensor:
        """Noise level of the network time ``t = ln(sigma) / 4``, float64."""
        return torch.exp(4.0 * torch.as_tensor(t, dtype=torch.float64))

    @staticmethod
    def time(sigma: float) -> float:
        """Network time ``c_noise = ln(sigma) / 4`` of a noise level."""
        return math.log(sigma) / 4.0

    def _sigma_like(self, t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
        sigma = self.sigma(t).to(device=like.device, dtype=like.dtype).reshape(-1)
        return append_dims(sigma, like.ndim)

    # ------------------------------------------------------------------ preconditioning
    def c_in(self, sigma: torch.Tensor) -> torch.Tensor:
        return 1.0 / (sigma.square() + self.sigma_data**2).sqrt()

    def c_skip(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.sigma_data**2 / (sigma.square() + self.sigma_data**2)

    def c_out(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma * self.sigma_data / (sigma.square() + self.sigma_data**2).sqrt()

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """The network's input at time ``t``: ``c_in (x0 + sigma noise)``."""
        sigma = self._sigma_like(t, x0)
        return self.c_in(sigma) * (x0 + sigma * noise)

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """The network's effective training target ``(x0 - c_skip (x0 + sigma noise)) / c_out`` (EDM, eq. 8)."""
        sigma = self._sigma_like(t, x0)
        return (x0 - self.c_skip(sigma) * (x0 + sigma * noise)) / self.c_out(sigma)

    def denoised(self, x: torch.Tensor, sigma: float, output: torch.Tensor) -> torch.Tensor:
        """``D(x; sigma) = c_skip x + c_out F`` from the network's output ``F`` at ``x`` (noised data, not scaled)."""
        s = torch.tensor(sigma, dtype=torch.float64)
        return float(self.c_skip(s)) * x + float(self.c_out(s)) * output.to(x.dtype)

    def snr(self, t: torch.Tensor | float) -> torch.Tensor:
        """Signal-to-noise ratio ``sigma_data^2 / sigma^2`` at ``t``, float32."""
        return (self.sigma_data**2 / self.sigma(t).square()).float()

    def sample_timesteps(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        spatial_shape: tuple[int, ...] | None = None,
    ) -> torch.Tensor:
        """Training times ``t = ln(sigma) / 4`` with ``ln(sigma) ~ N(p_mean, p_std^2)``, float32 ``(batch,)``.

        Args:
            batch: number of times.
            generator: source of randomness (drawn on its own device); ``None`` uses the global generator.
            device: device of the returned tensor (default: the generator's, else CPU).
            spatial_shape: unused (no resolution dependence); accepted so that every schedule is called alike.
        """
        del spatial_shape
        draw_on = generator.device if generator is not None else (device or "cpu")
        z = torch.randn((batch,), generator=generator, device=draw_on, dtype=torch.float32)
        return ((self.p_mean + self.p_std * z) / 4.0).to(device or draw_on)


def edm_timesteps(schedule: EDMSchedule, steps: int, start: float | None = None) -> list[float]:
    """Decreasing sampling times ``t_i = ln(sigma_i) / 4`` of EDM's noise levels (eq. 5)::

        sigma_i = (sigma_max^(1/rho) + i / (steps - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho

    for ``i < steps``; a sampler steps from the last one to ``sigma = 0``.

    Args:
        schedule: the ``EDMSchedule``.
        steps: number of noise levels (``steps = 1``: ``sigma_max`` alone).
        start: first time (partial sampling from a noised input); default ``time(sigma_max)``. Must lie above
            ``time(sigma_min)``.

    Raises:
        ValueError: if ``steps < 1`` or ``start`` is at or below ``time(sigma_min)``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    top = schedule.sigma_max if start is None else float(schedule.sigma(start))
    if top <= schedule.sigma_min:
        raise ValueError(f"start must be above time(sigma_min) = {schedule.time(schedule.sigma_min):.4f}, got {start}.")
    if steps == 1:
        return [schedule.time(top)]
    a, b = top ** (1.0 / schedule.rho), schedule.sigma_min ** (1.0 / schedule.rho)
    return [schedule.time((a + i / (steps - 1) * (b - a)) ** schedule.rho) for i in range(steps)]
