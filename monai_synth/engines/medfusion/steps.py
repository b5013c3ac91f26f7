"""One optimisation step of each Medfusion phase: ``step(engine, batch) -> dict`` over a seeded batch source.

The batches come from :class:`~monai_synth.engines.batch_source.SeededBatches` (``"image"``; or ``"mu"``,
``"sigma"``, ``"label"``), each with the step's own ``"generator"``: every random draw of a step is a function of
``(seed, iteration, rank)``.
"""

from __future__ import annotations

import torch
from ignite.engine import Engine
from torch import nn

from monai_synth.engines.precision import autocast_for
from monai_synth.losses.autoencoder import AutoencoderReconstructionLoss, PatchGANLoss
from monai_synth.losses.denoising import DenoisingLoss


class AutoencoderStep:
    """VAE step (L1 + SSIM + KL + deep supervision [+ PatchGAN]) followed by a discriminator step.

    Args:
        vae: the autoencoder (possibly DDP-wrapped); its forward takes ``(x, noise)``.
        discriminator: PatchGAN discriminator, or None for no adversarial term.
        opt_g / opt_d: optimisers of the autoencoder and discriminator.
        loss: reconstruction loss.
        adversarial_weight: weight of the generator's adversarial loss.
        adversarial_start: first iteration (1-based) with the adversarial terms (the reference code warms up).
        device: compute device; precision: "fp32" | "bf16" | "fp16"; channels_last: NHWC activations.
        crop_size: train on one random ``crop_size`` x ``crop_size`` crop of each image (None: whole images). The
            autoencoder is convolutional, so it encodes whole images after training on crops (as Stable
            Diffusion's autoencoder does); a crop of half the side costs a quarter of the compute. A multiple of
            the autoencoder's compression factor, and large enough for the discriminator's layers.

    The batch: ``"image"`` (B, C, H, W) in [-1, 1] and the step's ``"generator"`` (crop offsets, then the
    posterior noise).
    """

    def __init__(
        self,
        vae: nn.Module,
        discriminator: nn.Module | None,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer | None,
        loss: AutoencoderReconstructionLoss,
        adversarial_weight: float = 0.05,
        adversarial_start: int = 1,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        crop_size: int | None = None,
    ) -> None:
        factor = getattr(vae, "module", vae).compression
        if crop_size is not None and (int(crop_size) <= 0 or int(crop_size) % factor):
            raise ValueError(f"crop_size must be a positive multiple of the autoencoder's compression factor "
                             f"{factor}, got {crop_size}")
        self.crop_size = None if crop_size is None else int(crop_size)
        self.channels_last = channels_last
        self.vae, self.disc, self.opt_g, self.opt_d, self.loss = vae, discriminator, opt_g, opt_d, loss
        self.gan = PatchGANLoss()
        self.adv_w, self.adv_start = adversarial_weight, adversarial_start
        self.device, self.precision = torch.device(device), precision

    def __call__(self, engine: Engine, batch: dict) -> dict[str, float]:
        x, g = batch["image"], batch["generator"]
        if self.crop_size is not None:
            x = random_crops(x, self.crop_size, g)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
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


def random_crops(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One ``size`` x ``size`` crop of each image of ``x`` (B, C, H, W), at offsets drawn from ``generator``.

    Images no larger than ``size`` on a side are returned whole on that side. Not MONAI's ``RandSpatialCrop``:
    its offsets come from its own numpy state, while a step's draws must be a function of its iteration alone.
    """
    b, _, h, w = x.shape
    ch, cw = min(size, h), min(size, w)
    if (ch, cw) == (h, w):
        return x
    top = torch.randint(0, h - ch + 1, (b,), generator=generator, device=generator.device).tolist()
    left = torch.randint(0, w - cw + 1, (b,), generator=generator, device=generator.device).tolist()
    return torch.stack([x[i, :, t : t + ch, s : s + cw] for i, (t, s) in enumerate(zip(top, left))])


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
        scale: latent scale factor (1 / std of the latents; 1.0 for latents normalised beforehand).
        label_dropout: probability of replacing the label with ``null_label`` (Medfusion: 0.5).
        null_label: the unconditional label index.
        prediction: "epsilon" (Medfusion) or "v" with a DDPM schedule; "velocity" with rectified flow.
        grad_clip: max gradient norm (0 = off).
        min_snr_gamma: Min-SNR-gamma loss weighting (None = off; see :class:`DenoisingLoss`).

    The batch: the posterior ``"mu"`` / ``"sigma"`` of its images' latents (B, C, h, w), their ``"label"`` (B,)
    and the step's ``"generator"`` (latent sample, timesteps, noise, label dropout).
    """

    def __init__(
        self,
        unet: nn.Module,
        optimizer: torch.optim.Optimizer,
        ema,
        schedule,
        scale: float,
        label_dropout: float,
        null_label: int,
        prediction: str = "epsilon",
        grad_clip: float = 1.0,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        channels_last: bool = False,
        min_snr_gamma: float | None = None,
    ) -> None:
        self.loss = DenoisingLoss(schedule, prediction, min_snr_gamma)
        self.unet, self.opt, self.ema, self.schedule, self.scale = unet, optimizer, ema, schedule, scale
        self.p_drop, self.null_label, self.prediction, self.grad_clip = label_dropout, null_label, prediction, grad_clip
        self.device, self.precision, self.channels_last = torch.device(device), precision, channels_last

    def __call__(self, engine: Engine, batch: dict) -> dict[str, float]:
        mu, sigma, labels, g = batch["mu"], batch["sigma"], batch["label"], batch["generator"]
        b = mu.shape[0]
        z0 = (mu + sigma * torch.randn(mu.shape, generator=g, device=self.device)) * self.scale
        t = self.schedule.sample_timesteps(b, generator=g, device=self.device, spatial_shape=z0.shape[2:])
        noise = torch.randn(z0.shape, generator=g, device=self.device)
        x_t = self.schedule.add_noise(z0, noise, t)
        drop = torch.rand(b, generator=g, device=self.device) < self.p_drop
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
