"""Discrete-time variance-preserving noise schedule (Ho et al. 2020) and conversions between predictions.

Notation: ``ab_t = alphas_cumprod[t]``; the forward process is
``x_t = sqrt(ab_t) * x0 + sqrt(1 - ab_t) * eps`` for training timesteps ``t = 0 .. T-1``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from monai_synth.diffusion.edm import EDMSchedule
from monai_synth.diffusion.flow import FlowSchedule
from monai_synth.diffusion.utils import append_dims

__all__ = ["NoiseSchedule", "make_schedule", "sampler_input", "SCHEDULE_KINDS", "FLOW_KIND", "EDM_KIND"]

SCHEDULE_KINDS = ("linear", "scaled_linear", "cosine")  # the DDPM (beta) kinds
FLOW_KIND = FlowSchedule.kind
EDM_KIND = EDMSchedule.kind


class NoiseSchedule(nn.Module):
    """The tensors of a discrete noise schedule, as buffers, with small named conversions.

    Buffers are float64 (``1 - ab_t`` near ``t = 0`` needs the precision); every method returns the
    dtype of its tensor input. Buffers follow ``.to(device)``; do not cast the schedule to half.

    Args:
        betas: 1D tensor of per-step noise variances in ``(0, 1)``.

    Raises:
        ValueError: if ``betas`` is not 1D or has values outside ``(0, 1)``.
    """

    kind = "ddpm"
    predictions = ("epsilon", "v")

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor

    def __init__(self, betas: torch.Tensor) -> None:
        super().__init__()
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or betas.numel() == 0:
            raise ValueError(f"betas must be a non-empty 1D tensor, got shape {tuple(betas.shape)}.")
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(f"betas must lie in (0, 1), got range [{betas.min():.3g}, {betas.max():.3g}].")
        alphas = 1.0 - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", alphas)
        self.register_buffer("alphas_cumprod", alphas_cumprod)
        self.register_buffer("sqrt_alphas_cumprod", alphas_cumprod.sqrt())
        self.register_buffer("sqrt_one_minus_alphas_cumprod", (1.0 - alphas_cumprod).sqrt())

    @property
    def num_steps(self) -> int:
        """Number of training timesteps ``T``."""
        return self.betas.shape[0]

    def _coef(self, buffer: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """Gather ``buffer[t]`` and shape it to broadcast against ``like`` (2D or 3D batches)."""
        t = torch.as_tensor(t, device=buffer.device).long()
        return append_dims(buffer[t], like.ndim).to(device=like.device, dtype=like.dtype)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """Sample ``q(x_t | x0)``: ``sqrt(ab_t) x0 + sqrt(1 - ab_t) noise``."""
        return self._coef(self.sqrt_alphas_cumprod, t, x0) * x0 + self._coef(
            self.sqrt_one_minus_alphas_cumprod, t, x0
        ) * noise

    def predict_x0_from_eps(self, x_t: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """Clean sample implied by a noise prediction: ``(x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t)``."""
        return (x_t - self._coef(self.sqrt_one_minus_alphas_cumprod, t, x_t) * eps) / self._coef(
            self.sqrt_alphas_cumprod, t, x_t
        )

    def predict_eps_from_x0(self, x_t: torch.Tensor, t: torch.Tensor | int, x0: torch.Tensor) -> torch.Tensor:
        """Noise implied by a clean-sample prediction: ``(x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t)``."""
        return (x_t - self._coef(self.sqrt_alphas_cumprod, t, x_t) * x0) / self._coef(
            self.sqrt_one_minus_alphas_cumprod, t, x_t
        )

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """v-prediction target (Salimans & Ho 2022): ``v = sqrt(ab_t) noise - sqrt(1 - ab_t) x0``."""
        return self._coef(self.sqrt_alphas_cumprod, t, x0) * noise - self._coef(
            self.sqrt_one_minus_alphas_cumprod, t, x0
        ) * x0

    def predict_eps_from_v(self, x_t: torch.Tensor, t: torch.Tensor | int, v: torch.Tensor) -> torch.Tensor:
        """Noise implied by a v-prediction: ``sqrt(1 - ab_t) x_t + sqrt(ab_t) v``."""
        return self._coef(self.sqrt_one_minus_alphas_cumprod, t, x_t) * x_t + self._coef(
            self.sqrt_alphas_cumprod, t, x_t
        ) * v

    def predict_x0_from_v(self, x_t: torch.Tensor, t: torch.Tensor | int, v: torch.Tensor) -> torch.Tensor:
        """Clean sample implied by a v-prediction: ``sqrt(ab_t) x_t - sqrt(1 - ab_t) v``."""
        return self._coef(self.sqrt_alphas_cumprod, t, x_t) * x_t - self._coef(
            self.sqrt_one_minus_alphas_cumprod, t, x_t
        ) * v

    def snr(self, t: torch.Tensor | int) -> torch.Tensor:
        """Signal-to-noise ratio ``ab_t / (1 - ab_t)`` at ``t``, float32, same shape as ``t`` (e.g. Min-SNR weights)."""
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).long()
        ab = self.alphas_cumprod[t]
        return (ab / (1.0 - ab)).float()

    def truncated(self, last: int) -> "NoiseSchedule":
        """The schedule's first ``last + 1`` timesteps, as a schedule of its own.

        Every sampler then runs from ``t = last`` down to 0 with the same ``ab_t`` and the same timestep
        values for the denoiser: sampling that starts from a noised image rather than from pure noise
        (SDEdit, Meng et al. 2022; "come closer, diffuse faster", Chung et al. 2022).

        Raises:
            ValueError: if ``last`` is outside ``[0, T - 1]``.
        """
        if not 0 <= int(last) < self.num_steps:
            raise ValueError(f"last must be in [0, {self.num_steps - 1}], got {last}.")
        return NoiseSchedule(self.betas[: int(last) + 1].cpu()).to(self.betas.device)

    def sample_timesteps(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        spatial_shape: tuple[int, ...] | None = None,
    ) -> torch.Tensor:
        """Uniform training timesteps ``t ~ U{0, ..., T-1}``.

        Args:
            batch: number of timesteps.
            generator: source of randomness (drawn on its own device); ``None`` uses the global generator.
            device: device of the returned tensor (default: the buffers' device).
            spatial_shape: unused (this schedule does not depend on resolution); accepted so that every
                schedule is called alike (see :class:`~monai_synth.diffusion.flow.FlowSchedule`).

        Returns:
            LongTensor of shape ``(batch,)``.
        """
        del spatial_shape
        device = self.betas.device if device is None else device
        draw_on = generator.device if generator is not None else device
        t = torch.randint(0, self.num_steps, (batch,), generator=generator, device=draw_on)
        return t.to(device)


def sampler_input(schedule, prediction: str, x_t: torch.Tensor, t, output: torch.Tensor) -> torch.Tensor:
    """What the samplers take from a network ``output`` at ``x_t``: the DDPM samplers work on epsilon, so a
    v-prediction is converted (``schedule.predict_eps_from_v``); epsilon and the rectified-flow velocity pass as
    they are."""
    return schedule.predict_eps_from_v(x_t, t, output) if prediction == "v" else output


def _cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule (Nichol & Dhariwal 2021, eq. 17), clipped at ``max_beta``."""
    steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return (1.0 - f[1:] / f[:-1]).clamp(max=max_beta)


def make_schedule(
    num_steps: int = 1000,
    kind: str = "linear",
    beta_start: float | None = None,
    beta_end: float | None = None,
    **options,
) -> NoiseSchedule | FlowSchedule | EDMSchedule:
    """Build a :class:`NoiseSchedule` (DDPM kinds), a :class:`FlowSchedule` (``kind="rectified_flow"``) or an
    :class:`~monai_synth.diffusion.edm.EDMSchedule` (``kind="edm"``).

    A bundle switches objective by this dict alone (``noise_schedule`` in the configs): the schedule's
    ``predictions`` say which network outputs fit it, and the samplers check that they get their kind.

    Args:
        num_steps: number of training timesteps ``T`` (for rectified flow: the time scale the network sees;
            unused by ``edm``, whose time is continuous).
        kind: ``"linear"`` (Ho et al. 2020), ``"scaled_linear"`` (betas linear in sqrt space,
            ``linspace(sqrt(beta_start), sqrt(beta_end)) ** 2`` as in diffusers/Medfusion), ``"cosine"``
            (Nichol & Dhariwal 2021; ignores ``beta_start``/``beta_end``), ``"rectified_flow"`` or ``"edm"``.
        beta_start: first beta (linear kinds; default 1e-4).
        beta_end: last beta (linear kinds; default 0.02).
        options: ``rectified_flow``: ``sample_method``, ``loc``, ``scale``, ``use_discrete_timesteps``,
            ``shift``, ``base_img_size_numel`` (see :class:`FlowSchedule`); ``edm``: ``sigma_data``,
            ``p_mean``, ``p_std``, ``sigma_min``, ``sigma_max``, ``rho`` (see ``EDMSchedule``).

    Returns:
        The schedule module.

    Raises:
        ValueError: on an unknown ``kind``, ``num_steps < 1``, betas outside ``(0, 1)``, or options of one
            kind given to another.
    """
    if kind in (FLOW_KIND, EDM_KIND) and (beta_start is not None or beta_end is not None):
        raise ValueError(f"beta_start/beta_end do not apply to kind {kind!r} (it has no betas).")
    if kind == FLOW_KIND:
        return FlowSchedule(num_steps, **options)
    if kind == EDM_KIND:
        return EDMSchedule(**options)
    if options:
        raise ValueError(f"{sorted(options)} apply to kinds 'rectified_flow' and 'edm' only, not to kind {kind!r}.")
    beta_start = 1e-4 if beta_start is None else beta_start
    beta_end = 0.02 if beta_end is None else beta_end
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
    if kind == "linear":
        betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    elif kind == "scaled_linear":
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_steps, dtype=torch.float64) ** 2
    elif kind == "cosine":
        betas = _cosine_betas(num_steps)
    else:
        raise ValueError(f"Unknown schedule kind {kind!r}; expected one of {(*SCHEDULE_KINDS, FLOW_KIND, EDM_KIND)}.")
    return NoiseSchedule(betas)
