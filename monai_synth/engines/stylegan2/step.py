"""One StyleGAN2-ADA training iteration: ``step(engine, batch) -> dict`` for the shared ``TrainingPhase``.

After Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020, and
"Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020:

1. generator step: non-saturating logistic loss on augmented fakes (style mixing on), plus every
   ``pl_interval`` iterations the path length penalty (lazy regularisation, weight x interval);
2. discriminator step: logistic loss on augmented reals and fakes, plus every ``r1_interval`` iterations
   the R1 penalty gamma / 2 * ||grad D(aug(x))||^2 x interval, taken through the augmentation;
3. EMA of the generator weights with a half-life of ``ema_kimg`` thousand images (ramped up early);
4. ADA: r_t = E[sign(D(aug(real)))] moves the augmentation probability p towards the target.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine
from torch import nn

from monai_synth.augment import AdaptiveAugmentPipeline, AdaptiveAugmentProbability
from monai_synth.engines.stylegan2.distributed import average_gradients, broadcast_module, gather_rows, world_size
from monai_synth.losses.gan import (
    PathLengthPenalty,
    discriminator_logistic_loss,
    generator_logistic_loss,
    r1_penalty,
)
from monai_synth.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator


def _adam(module: nn.Module, lr: float, betas: Sequence[float]) -> torch.optim.Adam:
    """Adam as in StyleGAN2 (eps 1e-8).

    The lazy regularisers are added to the main loss of the iteration where they are due (scaled by their
    interval) instead of taking an extra optimiser step, so StyleGAN2's lr/beta correction k / (k + 1) for
    extra steps does not apply here.
    """
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(float(betas[0]), float(betas[1])), eps=1e-8)


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when enabled and supported; nothing on CPU."""
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _is_due(iteration: int, interval: int) -> bool:
    """Lazy regularisation schedule: iterations 1, 1 + k, 1 + 2k, ... (``interval`` <= 0: never)."""
    return interval > 0 and (iteration - 1) % interval == 0


class StyleGAN2Step:
    """One StyleGAN2-ADA training iteration, as the process function of an Ignite engine.

    Args:
        generator: the trained generator (already on its device).
        discriminator: the discriminator (same device).
        augment: augmentation applied to every image D sees (None: no augmentation).
        ada: controller of ``augment.p`` (None: p stays fixed).
        g_lr: generator learning rate (Adam, betas below).
        d_lr: discriminator learning rate.
        betas: Adam betas (0, 0.99 in StyleGAN2).
        r1_gamma: R1 weight gamma (0: off). StyleGAN2-ADA's heuristic is 0.0002 * resolution^2 / batch.
        r1_interval: lazy R1 every this many iterations.
        pl_weight: path length weight (0: off; 2 in StyleGAN2).
        pl_interval: lazy path length every this many iterations.
        style_mixing_prob: probability of style mixing in generator passes.
        ema_kimg: half-life of the generator EMA in thousands of images.
        ema_rampup: the half-life is at most ``ema_rampup`` x images seen (None: no ramp-up).
        mixed_precision: bfloat16 autocast for the main passes on CUDA (ignored on CPU).
    """

    def __init__(
        self,
        generator: StyleGAN2Generator,
        discriminator: StyleGAN2Discriminator,
        augment: AdaptiveAugmentPipeline | None = None,
        ada: AdaptiveAugmentProbability | None = None,
        g_lr: float = 0.0025,
        d_lr: float = 0.0025,
        betas: Sequence[float] = (0.0, 0.99),
        r1_gamma: float = 1.0,
        r1_interval: int = 16,
        pl_weight: float = 0.0,
        pl_interval: int = 4,
        style_mixing_prob: float = 0.9,
        ema_kimg: float = 10.0,
        ema_rampup: float | None = 0.05,
        mixed_precision: bool = True,
    ) -> None:
        broadcast_module(generator)  # data-parallel runs start from rank 0's weights (no-op in one process)
        broadcast_module(discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.generator_ema = copy.deepcopy(generator).eval().requires_grad_(False)
        self.augment = augment if augment is not None else nn.Identity()
        self.ada = ada
        self.device = next(generator.parameters()).device
        self.r1_gamma, self.r1_interval = r1_gamma, r1_interval if r1_gamma > 0 else 0
        self.pl_weight, self.pl_interval = pl_weight, pl_interval if pl_weight > 0 else 0
        self.style_mixing_prob = style_mixing_prob
        self.ema_kimg, self.ema_rampup = ema_kimg, ema_rampup
        self.mixed_precision = mixed_precision
        self.optimizer_g = _adam(generator, g_lr, betas)
        self.optimizer_d = _adam(discriminator, d_lr, betas)
        self.path_length = PathLengthPenalty().to(self.device)
        self.num_images = 0
        self.settings = {"g_lr": g_lr, "d_lr": d_lr, "betas": list(betas), "r1_gamma": r1_gamma, "r1_interval": r1_interval,
                         "pl_weight": pl_weight, "pl_interval": pl_interval, "style_mixing_prob": style_mixing_prob,
                         "ema_kimg": ema_kimg, "ema_rampup": ema_rampup, "mixed_precision": mixed_precision}  # fmt: skip
        self.last: dict[str, float] = {"r1": 0.0, "pl": 0.0, "r_t": 0.0}

    def objects_to_checkpoint(self) -> dict[str, Any]:
        """Everything with a state dict that a resumed run needs (plus ``self`` for the image counter)."""
        objects = {
            "generator": self.generator,
            "generator_ema": self.generator_ema,
            "discriminator": self.discriminator,
            "optimizer_g": self.optimizer_g,
            "optimizer_d": self.optimizer_d,
            "path_length": self.path_length,
            "step": self,
        }
        if isinstance(self.augment, AdaptiveAugmentPipeline):
            objects["augment"] = self.augment
        if self.ada is not None:
            objects["ada"] = self.ada
        return objects

    def state_dict(self) -> dict[str, Any]:
        return {"num_images": self.num_images, "last": dict(self.last)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.num_images = int(state["num_images"])
        self.last = dict(state["last"])

    def _prepare(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        images = torch.as_tensor(batch["image"]).to(self.device, torch.float32)
        if images.shape[1:] != (self.generator.image_channels, self.generator.image_size, self.generator.image_size):
            raise ValueError(
                f"batch images have shape {tuple(images.shape[1:])} but the networks expect "
                f"({self.generator.image_channels}, {self.generator.image_size}, {self.generator.image_size}): "
                "check the 'channels' and 'image_size' settings."
            )
        if self.generator.num_classes == 0:
            return images, None
        if batch.get("label") is None:
            raise ValueError("the generator is class-conditional but the batch has no 'label'.")
        labels = torch.as_tensor(batch["label"]).reshape(-1).to(self.device, torch.long)
        if labels.min() < 0 or labels.max() >= self.generator.num_classes:
            raise ValueError(f"labels must be in [0, {self.generator.num_classes}), got {labels.tolist()}.")
        return images, labels

    def _generate(
        self, batch_size: int, labels: torch.Tensor | None, update_w_avg: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(batch_size, self.generator.z_dim, device=self.device)
        ws = self.generator.map(z, labels, update_w_avg=update_w_avg)
        ws = self.generator.mix_styles(ws, labels, self.style_mixing_prob)
        return self.generator.synthesis(ws), ws

    def _generator_step(self, iteration: int, batch_size: int, labels: torch.Tensor | None) -> float:
        self.generator.requires_grad_(True)
        self.discriminator.requires_grad_(False)
        with _autocast(self.device, self.mixed_precision):
            fake, _ = self._generate(batch_size, labels, update_w_avg=True)
            loss = generator_logistic_loss(self.discriminator(self.augment(fake), labels))
        self.optimizer_g.zero_grad(set_to_none=True)
        loss.backward()
        if _is_due(iteration, self.pl_interval):
            pl_batch = max(batch_size // 2, 1)
            pl_labels = labels[:pl_batch] if labels is not None else None
            fake, ws = self._generate(pl_batch, pl_labels, update_w_avg=False)
            penalty = self.path_length(fake, ws)
            (penalty * self.pl_weight * self.pl_interval).backward()
            self.last["pl"] = float(penalty.detach())
        average_gradients(self.generator)
        self.optimizer_g.step()
        return float(loss.detach())

    def _discriminator_step(self, iteration: int, images: torch.Tensor, labels: torch.Tensor | None) -> float:
        self.generator.requires_grad_(False)
        self.discriminator.requires_grad_(True)
        fake_labels = labels[torch.randperm(labels.shape[0], device=labels.device)] if labels is not None else None
        do_r1 = _is_due(iteration, self.r1_interval)
        with torch.no_grad(), _autocast(self.device, self.mixed_precision):
            fake, _ = self._generate(images.shape[0], fake_labels, update_w_avg=False)
        with _autocast(self.device, self.mixed_precision):
            fake_logits = self.discriminator(self.augment(fake.float()), fake_labels)
        real = images.detach().requires_grad_(do_r1)
        with _autocast(self.device, self.mixed_precision and not do_r1):
            real_logits = self.discriminator(self.augment(real), labels)
        loss = discriminator_logistic_loss(real_logits, fake_logits)
        total = loss
        if do_r1:
            penalty = r1_penalty(real_logits, real)
            total = loss + penalty * (self.r1_gamma / 2) * self.r1_interval
            self.last["r1"] = float(penalty.detach())
        self.optimizer_d.zero_grad(set_to_none=True)
        total.backward()
        average_gradients(self.discriminator)
        self.optimizer_d.step()
        if self.ada is not None:
            r_t = self.ada.update(gather_rows(real_logits))
            self.last["r_t"] = r_t if r_t is not None else self.last["r_t"]
        return float(loss.detach())

    @torch.no_grad()
    def _update_ema(self, batch_size: int) -> None:
        ema_images = self.ema_kimg * 1000.0
        if self.ema_rampup is not None:
            ema_images = min(ema_images, self.num_images * self.ema_rampup)
        beta = 0.5 ** (batch_size / max(ema_images, 1e-8))
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)

    def __call__(self, engine: Engine, batch: Mapping[str, Any]) -> dict[str, float]:
        """Run one iteration (``engine.state.iteration`` is 1-based) and return the logged values."""
        self.generator.train()
        self.discriminator.train()
        iteration = engine.state.iteration
        images, labels = self._prepare(batch)
        gen_labels = labels[torch.randperm(labels.shape[0], device=labels.device)] if labels is not None else None
        loss_g = self._generator_step(iteration, images.shape[0], gen_labels)
        loss_d = self._discriminator_step(iteration, images, labels)
        global_batch = images.shape[0] * world_size()
        self.num_images += global_batch
        self._update_ema(global_batch)
        p = float(self.augment.p) if isinstance(self.augment, AdaptiveAugmentPipeline) else 0.0
        # "loss" (G + D) is the headline value MONAI's handlers track (from_engine(["loss"]))
        return {"loss": loss_g + loss_d, "loss_g": loss_g, "loss_d": loss_d, **self.last, "ada_p": p, "kimg": self.num_images / 1000.0}
