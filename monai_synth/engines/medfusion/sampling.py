"""Generate images from a trained Medfusion model: noise -> latent sampler -> VAE decoder."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from monai_synth import diffusion
from monai_synth.engines.precision import autocast_for
from monai_synth.seeding import noise_from_seeds, step_noise_generators

SAMPLERS = ("ddpm", "ddim", "dpmpp_2m", "euler", "heun", "edm_euler", "edm_heun")


def noise_for_indices(indices: list[int], shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    """Initial noise, one seeded draw per image (``seed + index``): an image does not depend on the batch."""
    return noise_from_seeds([seed + i for i in indices], shape, device)


def label_conditional_eps(
    unet: nn.Module, schedule, prediction: str, device: torch.device, precision: str = "fp32", channels_last: bool = False
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``model(x_t, t, labels)`` from a label-conditioned UNet: eps for a UNet predicting epsilon or v (DDPM
    samplers), the velocity itself for a UNet predicting the rectified-flow ``"velocity"`` (flow samplers) and the
    preconditioned output for an ``"edm"`` UNet (EDM samplers)."""

    def model(x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        xin = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        with autocast_for(device, precision):
            out = unet(xin, t, class_labels=labels).float()
        return diffusion.sampler_input(schedule, prediction, x, t, out)

    return model


@torch.no_grad()
def generate_images(
    vae: nn.Module,
    unet: nn.Module,
    schedule,
    labels: torch.Tensor,
    latent_shape: tuple[int, int, int],
    latent_scale: float | list[float],
    null_label: int,
    sampler: str = "ddim",
    steps: int = 150,
    eta: float = 0.0,
    guidance_scale: float = 1.0,
    seed: int = 0,
    first_index: int = 0,
    prediction: str = "epsilon",
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    progress: bool = False,
    latent_shift: float | list[float] = 0.0,
    clip_latents: float | None = None,
    timesteps: Sequence[int] | Sequence[float] | None = None,
) -> torch.Tensor:
    """Sample ``len(labels)`` images in [-1, 1] of the given classes.

    Args:
        vae / unet: the (EMA) networks, in eval mode.
        schedule: the training ``NoiseSchedule``.
        labels: class of each image (B,).
        latent_shape: (C, h, w) of the latents.
        latent_scale: factor the latents were multiplied by in training (one, or one per channel).
        latent_shift: what was subtracted from the latents before scaling (one, or one per channel).
        null_label: unconditional label for classifier-free guidance.
        sampler: "ddpm" | "ddim" | "dpmpp_2m" (DDPM schedule), "euler" | "heun" (rectified flow) or
            "edm_euler" | "edm_heun" (EDM); steps: number of sampler steps (timesteps for the Heun samplers, which
            evaluate the UNet ``2 steps - 1`` times).
        eta: DDIM stochasticity (0 = deterministic).
        guidance_scale: classifier-free guidance scale (1 = conditional only); applied to eps or velocity alike.
        prediction: what the UNet predicts: "epsilon" | "v" (DDPM schedule), "velocity" (rectified flow) or "edm".
        seed / first_index: image ``k`` of this batch starts from noise seeded ``seed + first_index + k``; the
            per-step noise of DDPM and DDIM with ``eta > 0`` comes from its own generator, seeded from the same.
        clip_latents: clamp every predicted clean latent to ``[-clip_latents, clip_latents]`` (the latents are
            scaled to unit variance, so 3-4 keeps them in the training range); None = no clamp.
        timesteps: the decreasing timesteps the sampler visits (e.g. ``make_timesteps(schedule.alphas_cumprod,
            150, "logsnr")``); None = the sampler's default spacing of ``steps`` (``default_timesteps``).
    """
    device = torch.device(device)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if prediction not in schedule.predictions:
        raise ValueError(f"prediction {prediction!r} does not fit a {schedule.kind!r} noise schedule; "
                         f"use one of {schedule.predictions}")
    if timesteps is None:
        timesteps = diffusion.default_timesteps(sampler, schedule, steps, spatial_shape=latent_shape[1:])
    labels = labels.to(device)
    idx = list(range(first_index, first_index + labels.shape[0]))
    x_t = noise_for_indices(idx, latent_shape, seed, device)
    model = label_conditional_eps(unet, schedule, prediction, device, precision, channels_last)
    denoiser = diffusion.classifier_free_guidance(model, labels, guidance_scale, null_label)
    # per-image generators on the CPU: a stochastic sampler's noise for image k depends on its seed only,
    # not on the batch it is generated in nor on the device
    gen = step_noise_generators(idx, seed)
    fn = getattr(diffusion, f"sample_{sampler}")
    kwargs = {"timesteps": timesteps, "generator": gen, "progress": progress, "clip_x0": clip_latents}
    if sampler == "ddim":
        kwargs["eta"] = eta
    z0 = fn(denoiser, x_t, schedule, **kwargs)
    with autocast_for(device, precision):
        scale = torch.as_tensor(latent_scale, dtype=z0.dtype, device=device).reshape(1, -1, 1, 1)
        shift = torch.as_tensor(latent_shift, dtype=z0.dtype, device=device).reshape(1, -1, 1, 1)
        images = vae.decode(z0 / scale + shift).float()
    return images.clamp(-1.0, 1.0)
