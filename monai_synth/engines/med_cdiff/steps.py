"""One optimisation step of each Med-cDiff restorer: ``step(engine, batch) -> dict`` over a seeded batch source.

:class:`RestorationBatches` draws every batch and all its randomness, the degradation included, from
``(seed, iteration, rank)`` (:class:`~monai_synth.engines.batch_source.SeededBatches`): a resumed run repeats an
uninterrupted one exactly. A batch holds the clean ``"image"``, its degraded ``"condition"`` and the step's
``"generator"``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from ignite.engine import Engine
from torch import nn

from monai_synth.engines.batch_source import SeededBatches
from monai_synth.engines.precision import autocast_for
from monai_synth.losses.denoising import DenoisingLoss
from monai_synth.losses.gan import bce_logits
from monai_synth.transforms.degradation import Degradation

__all__ = ["RestorationBatches", "ConditionalDiffusionStep", "Pix2PixStep", "SRGANStep"]


class RestorationBatches:
    """Clean batch, its degraded condition and the step's generator for one iteration.

    Args:
        images: all training images (N, C, H, W) in [-1, 1].
        degradation: the task's degradation (random factor / level / mask per image).
        batch_size / seed: per-rank batch size and run seed.
        device: compute device.
        rank / world_size: for distributed runs.

    ``batches(iteration)`` (0-based) returns ``{"image", "condition", "generator"}``; ``len(batches)`` is the number
    of full global batches per epoch.
    """

    def __init__(
        self,
        images: torch.Tensor,
        degradation: Degradation,
        batch_size: int,
        seed: int,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.source = SeededBatches({"image": images}, batch_size, seed, device, rank, world_size)
        self.degradation = degradation

    def __len__(self) -> int:
        return len(self.source)

    def __call__(self, iteration: int) -> dict[str, Any]:
        batch = self.source(iteration)
        g = batch["generator"]
        batch["condition"] = self.degradation.training(batch["image"], g)
        # layers that draw from torch's global generator (pix2pix dropout) get it seeded from this step's
        # generator, so that they too are a function of the iteration (exact resume)
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=g, device=g.device)))
        return batch


def _layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """NHWC when ``channels_last``."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _optimise(opt: torch.optim.Optimizer, loss: torch.Tensor, params=None, clip: float = 0.0) -> float | None:
    """Zero the gradients, back-propagate, clip when asked, step; return the gradient norm when clipped."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, clip) if clip and params is not None else None
    opt.step()
    return None if norm is None else float(norm)


class ConditionalDiffusionStep:
    """Med-cDiff's denoising step: the degraded image is concatenated to ``x_t``; the UNet predicts the noise.

    Loss ``|| eps - eps_theta(cat(x_t, condition), t) ||^2`` with ``t ~ U{0..T-1}`` (Ho et al. 2020, Alg. 1). With a
    rectified-flow schedule (``kind="rectified_flow"``) the UNet predicts the velocity ``x0 - noise`` instead, at
    the schedule's timesteps (see :class:`~monai_synth.losses.denoising.DenoisingLoss`).

    Args:
        unet: ``unet(cat(x_t, cond), t) -> eps`` (possibly DDP-wrapped).
        optimizer: its optimiser; ema: a ``WeightEMA`` updated after each step, or None.
        schedule: the ``NoiseSchedule`` or ``FlowSchedule``.
        precision: "fp32" | "bf16" | "fp16"; grad_clip: max gradient norm (0 = off).
        channels_last: NHWC activations.
        prediction: the UNet's target; None: the schedule's own (epsilon for DDPM, velocity for rectified flow).
        min_snr_gamma: Min-SNR-gamma loss weighting (None = off).

    Raises:
        ValueError: for an EDM schedule (``kind="edm"``), which Med-cDiff's restorer cannot sample yet.
    """

    def __init__(self, unet: nn.Module, optimizer: torch.optim.Optimizer, ema, schedule, precision: str = "fp32",
                 grad_clip: float = 1.0, prediction: str | None = None, min_snr_gamma: float | None = None,
                 channels_last: bool = False) -> None:
        if getattr(schedule, "kind", None) == "edm":
            raise ValueError("noise_schedule kind 'edm' is available for Medfusion only; Med-cDiff trains with a "
                             "DDPM kind or 'rectified_flow'.")
        self.unet, self.opt, self.ema, self.schedule = unet, optimizer, ema, schedule
        self.precision, self.grad_clip, self.channels_last = precision, grad_clip, channels_last
        self.loss = DenoisingLoss(schedule, prediction, min_snr_gamma)

    def __call__(self, engine: Engine, batch: dict) -> dict[str, float]:
        x0, cond, g = batch["image"], batch["condition"], batch["generator"]
        device = x0.device
        t = self.schedule.sample_timesteps(x0.shape[0], generator=g, device=device, spatial_shape=x0.shape[2:])
        noise = torch.randn(x0.shape, generator=g, device=device)
        x_in = _layout(torch.cat([self.schedule.add_noise(x0, noise, t), cond], dim=1), self.channels_last)
        self.unet.train()
        with autocast_for(device, self.precision):
            out = self.unet(x_in, t)
        loss = self.loss(out, x0, noise, t)
        gnorm = _optimise(self.opt, loss, self.unet.parameters(), self.grad_clip)
        if self.ema is not None:
            self.ema.update()
        out = {"loss": loss.item()}
        if gnorm is not None:
            out["grad_norm"] = gnorm
        return out


class Pix2PixStep:
    """pix2pix step (Isola et al. 2017, eq. 4): ``G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)``.

    The generator minimises ``BCE(D(c, G(c)), real) + l1_weight * |y - G(c)|``; then the discriminator
    minimises ``(BCE(D(c, y), real) + BCE(D(c, G(c)), fake)) / 2`` (the paper halves D's objective).

    Args:
        generator / discriminator: the U-Net ``G(c)`` and the PatchGAN ``D(cat(c, y))`` (list output).
        opt_g / opt_d: their optimisers.
        l1_weight: lambda (100 in the paper).
        precision: "fp32" | "bf16" | "fp16"; channels_last: NHWC activations.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, l1_weight: float = 100.0, precision: str = "fp32",
                 channels_last: bool = False) -> None:
        self.g, self.d, self.opt_g, self.opt_d = generator, discriminator, opt_g, opt_d
        self.l1_weight, self.precision, self.channels_last = l1_weight, precision, channels_last

    def _d(self, cond: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        with autocast_for(image.device, self.precision):
            return self.d(_layout(torch.cat([cond, image], dim=1), self.channels_last))[-1].float()

    def __call__(self, engine: Engine, batch: dict) -> dict[str, float]:
        y, cond = batch["image"], batch["condition"]
        self.g.train()
        self.d.train()
        with autocast_for(y.device, self.precision):
            fake = self.g(_layout(cond, self.channels_last)).float()
        l1 = F.l1_loss(fake, y)
        g_adv = bce_logits(self._d(cond, fake), real=True)
        _optimise(self.opt_g, g_adv + self.l1_weight * l1)
        d_loss = 0.5 * (bce_logits(self._d(cond, y), real=True) + bce_logits(self._d(cond, fake.detach()), real=False))
        _optimise(self.opt_d, d_loss)
        return {"loss": (g_adv + self.l1_weight * l1).item(), "l1": l1.item(), "g_adv": g_adv.item(),
                "d_loss": d_loss.item()}


class SRGANStep:
    """SRGAN step (Ledig et al. 2017, eq. 3): content loss + ``adversarial_weight`` x adversarial loss.

    The content loss is the pixel MSE (the paper's SRGAN-MSE; its VGG feature loss needs ImageNet VGG weights,
    which are not available offline). The discriminator minimises ``BCE(D(y), real) + BCE(D(G(c)), fake)``.

    Args:
        generator / discriminator: the SRResNet ``G(c)`` and the discriminator ``D(y) -> (B,)`` logits.
        opt_g / opt_d: their optimisers.
        adversarial_weight: 1e-3 in the paper.
        precision: "fp32" | "bf16" | "fp16"; channels_last: NHWC activations.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, adversarial_weight: float = 1e-3, precision: str = "fp32",
                 channels_last: bool = False) -> None:
        self.g, self.d, self.opt_g, self.opt_d = generator, discriminator, opt_g, opt_d
        self.adv_w, self.precision, self.channels_last = adversarial_weight, precision, channels_last

    def _d(self, image: torch.Tensor) -> torch.Tensor:
        with autocast_for(image.device, self.precision):
            return self.d(_layout(image, self.channels_last)).float()

    def __call__(self, engine: Engine, batch: dict) -> dict[str, float]:
        y, cond = batch["image"], batch["condition"]
        self.g.train()
        self.d.train()
        with autocast_for(y.device, self.precision):
            fake = self.g(_layout(cond, self.channels_last)).float()
        content = F.mse_loss(fake, y)
        g_adv = bce_logits(self._d(fake), real=True)
        _optimise(self.opt_g, content + self.adv_w * g_adv)
        d_loss = bce_logits(self._d(y), real=True) + bce_logits(self._d(fake.detach()), real=False)
        _optimise(self.opt_d, d_loss)
        return {"loss": (content + self.adv_w * g_adv).item(), "mse": content.item(), "g_adv": g_adv.item(),
                "d_loss": d_loss.item()}
