"""One optimisation step of each Medfusion phase, as small callables over ``engine.state.iteration``."""

from __future__ import annotations

import torch
from ignite.engine import Engine
from torch import nn

from monai_synth.engines.precision import autocast_for
from monai_synth.losses.autoencoder import AutoencoderReconstructionLoss, PatchGANLoss
from monai_synth.losses.denoising import DenoisingLoss
from monai_synth.seeding import batch_indices, step_generator


class AutoencoderStep:
    """VAE step (L1 + SSIM + KL + deep supervision [+ PatchGAN]) followed by a discriminator step.

    Args:
        vae: the autoencoder (possibly DDP-wrapped); its forward takes ``(x, noise)``.
        discriminator: PatchGAN discriminator, or None for no adversarial term.
        opt_g / opt_d: optimisers of the autoencoder and discriminator.
        images: all training images (N, C, H, W) in [-1, 1], on any device.
        batch_size: per-rank batch size.
        seed: run seed.
        loss: reconstruction loss.
        adversarial_weight: weight of the generator's adversarial loss.
        adversarial_start: first iteration (1-based) with the adversarial terms (the reference code warms up).
        device: compute device; precision: "fp32" | "bf16" | "fp16"; channels_last: NHWC activations.
        rank / world_size: for distributed runs.
    """

    def __init__(
        self,
        vae: nn.Module,
        discriminator: nn.Module | None,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer | None,
        images: torch.Tensor,
        batch_size: int,
        seed: int,
        loss: AutoencoderReconstructionLoss,
        adversarial_weight: float = 0.05,
        adversarial_start: int = 1,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.channels_last = channels_last
        self.vae, self.disc, self.opt_g, self.opt_d = vae, discriminator, opt_g, opt_d
        self.images, self.batch_size, self.seed, self.loss = images, batch_size, seed, loss
        self.gan = PatchGANLoss()
        self.adv_w, self.adv_start = adversarial_weight, adversarial_start
        self.device, self.precision = torch.device(device), precision
        self.rank, self.world = rank, world_size

    def __call__(self, engine: Engine) -> dict[str, float]:
        i = engine.state.iteration - 1
        idx = batch_indices(i, self.images.shape[0], self.batch_size, self.seed, self.rank, self.world)
        x = self.images[idx].to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        g = step_generator(self.seed, i, self.rank, self.device)
        self.vae.train()
        with autocast_for(self.device, self.precision):
            mu_shape = _latent_shape(self.vae, x)
            noise = torch.randn(mu_shape, generator=g, device=self.device)
            recon, aux, mu, sigma = self.vae(x, noise)
        recon = recon.float()
        total, parts = self.loss(x, recon, None if aux is None else aux.float(), mu, sigma)
        adversarial = self.disc is not None and engine.state.iteration >= self.adv_start
        if adversarial:
            with autocast_for(self.device, self.precision):
                g_adv = self.gan.generator([o.float() for o in self.disc(recon)])
            total = total + self.adv_w * g_adv
            parts["g_adv"] = g_adv.item()
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        if adversarial:
            with autocast_for(self.device, self.precision):
                d_loss = self.gan.discriminator(
                    [o.float() for o in self.disc(x)], [o.float() for o in self.disc(recon.detach())]
                )
            self.opt_d.zero_grad(set_to_none=True)  # type: ignore[union-attr]
            d_loss.backward()
            self.opt_d.step()  # type: ignore[union-attr]
            parts["d_loss"] = d_loss.item()
        parts["loss"] = total.item()
        return parts


def _latent_shape(vae: nn.Module, x: torch.Tensor) -> tuple[int, ...]:
    inner = getattr(vae, "module", vae)
    f = inner.compression
    return (x.shape[0], inner.latent_channels, x.shape[-2] // f, x.shape[-1] // f)


class LatentDiffusionStep:
    """Denoising step on scaled VAE latents, with label dropout for classifier-free guidance.

    The schedule decides the objective: a DDPM ``NoiseSchedule`` (``t ~ U{0..T-1}``, epsilon or v target) or a
    rectified-flow ``FlowSchedule`` (``t`` by its ``sample_method``, velocity target); see :class:`DenoisingLoss`.

    Args:
        unet: ``unet(x_t, t, class_labels=y) -> prediction`` (possibly DDP-wrapped).
        optimizer: its optimiser; ema: a ``WeightEMA`` updated after each step (or None).
        schedule: the ``NoiseSchedule`` or ``FlowSchedule`` (``make_schedule``).
        latent_mu / latent_sigma: posterior of every training image's latents (N, C, h, w), unscaled.
        labels: class of every training image (N,).
        scale: latent scale factor (1 / std of the latents).
        batch_size / seed: per-rank batch and run seed.
        label_dropout: probability of replacing the label with ``null_label`` (Medfusion: 0.5).
        null_label: the unconditional label index.
        prediction: "epsilon" (Medfusion) or "v" with a DDPM schedule; "velocity" with rectified flow.
        grad_clip: max gradient norm (0 = off).
        min_snr_gamma: Min-SNR-gamma loss weighting (None = off; see :class:`DenoisingLoss`).
    """

    def __init__(
        self,
        unet: nn.Module,
        optimizer: torch.optim.Optimizer,
        ema,
        schedule,
        latent_mu: torch.Tensor,
        latent_sigma: torch.Tensor,
        labels: torch.Tensor,
        scale: float,
        batch_size: int,
        seed: int,
        label_dropout: float,
        null_label: int,
        prediction: str = "epsilon",
        grad_clip: float = 1.0,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        min_snr_gamma: float | None = None,
    ) -> None:
        self.loss = DenoisingLoss(schedule, prediction, min_snr_gamma)
        self.unet, self.opt, self.ema, self.schedule = unet, optimizer, ema, schedule
        self.mu, self.sigma, self.labels, self.scale = latent_mu, latent_sigma, labels, scale
        self.batch_size, self.seed = batch_size, seed
        self.p_drop, self.null_label, self.prediction, self.grad_clip = label_dropout, null_label, prediction, grad_clip
        self.device, self.precision, self.channels_last = torch.device(device), precision, channels_last
        self.rank, self.world = rank, world_size

    def __call__(self, engine: Engine) -> dict[str, float]:
        i = engine.state.iteration - 1
        idx = batch_indices(i, self.mu.shape[0], self.batch_size, self.seed, self.rank, self.world)
        g = step_generator(self.seed, i, self.rank, self.device)
        mu, sigma = self.mu[idx].to(self.device), self.sigma[idx].to(self.device)
        b = mu.shape[0]
        z0 = (mu + sigma * torch.randn(mu.shape, generator=g, device=self.device)) * self.scale
        t = self.schedule.sample_timesteps(b, generator=g, device=self.device, spatial_shape=z0.shape[2:])
        noise = torch.randn(z0.shape, generator=g, device=self.device)
        x_t = self.schedule.add_noise(z0, noise, t)
        drop = torch.rand(b, generator=g, device=self.device) < self.p_drop
        labels = self.labels[idx].to(self.device)
        y = torch.where(drop, torch.full_like(labels, self.null_label), labels)
        if self.channels_last:
            x_t = x_t.contiguous(memory_format=torch.channels_last)
        self.unet.train()
        with autocast_for(self.device, self.precision):
            out = self.unet(x_t, t, class_labels=y)
        loss = self.loss(out, z0, noise, t)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.unet.parameters(), self.grad_clip) if self.grad_clip else None
        self.opt.step()
        if self.ema is not None:
            self.ema.update()
        out_d = {"loss": loss.item()}
        if gnorm is not None:
            out_d["grad_norm"] = float(gnorm)
        return out_d
