"""StyleGAN2-ADA training and sampling: an Ignite engine, its step, and a sample writer.

One iteration (Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020, and
"Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020):

1. generator step: non-saturating logistic loss on augmented fakes (style mixing on), plus every
   ``pl_interval`` iterations the path length penalty (lazy regularisation, weight x interval);
2. discriminator step: logistic loss on augmented reals and fakes, plus every ``r1_interval`` iterations
   the R1 penalty gamma / 2 * ||grad D(aug(x))||^2 x interval, taken through the augmentation;
3. EMA of the generator weights with a half-life of ``ema_kimg`` thousand images (ramped up early);
4. ADA: r_t = E[sign(D(aug(real)))] moves the augmentation probability p towards the target.

``StyleGAN2Trainer`` adds checkpoints (Ignite ``Checkpoint`` + ``DiskSaver(atomic=True)``; the same command
resumes from the latest one), transfer learning from ``resume_from``, TensorBoard scalars and a sample grid
per class at the end, ``metrics.json``, and optionally FID / KID / precision / recall during training with the
best checkpoint by FID (``stylegan2_evaluation``); it runs data-parallel under torchrun (``stylegan2_distributed``).
``StyleGAN2SampleWriter`` writes samples of a trained generator with a manifest.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events, State
from ignite.handlers import Checkpoint, DiskSaver
from torch import nn

from monai_synth.augment import AdaptiveAugmentPipeline, AdaptiveAugmentProbability
from monai_synth.engines.tracking import prepare_tracking_handler
from monai_synth.handlers.epoch_means import EpochMeans
from monai_synth.engines.epoch_replay import EpochReplayLoader
from monai_synth.engines.stylegan2.distributed import (
    average_gradients,
    broadcast_module,
    gather_rows,
    rank,
    world_size,
)
from monai_synth.engines.stylegan2.evaluation import StyleGAN2FidelityMonitor, is_enabled
from monai_synth.io.atomic import atomic_open
from monai_synth.losses.gan import (
    PathLengthPenalty,
    discriminator_logistic_loss,
    generator_logistic_loss,
    r1_penalty,
)
from monai_synth.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from monai_synth.networks.stylegan2_checkpoint import (
    latest_stylegan2_checkpoint,
    load_stylegan2_generator,
    transfer_stylegan2_weights,
)

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "stylegan2"


def count_classes(datalist: Iterable[Mapping[str, Any]]) -> int:
    """Number of classes in a datalist (max ``label`` + 1), or 0 when entries carry no labels."""
    labels = [int(d["label"]) for d in datalist if d.get("label") is not None]
    return max(labels) + 1 if labels else 0


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
        self.train_seconds = 0.0
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
        return {"num_images": self.num_images, "last": dict(self.last), "train_seconds": self.train_seconds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.num_images = int(state["num_images"])
        self.last = dict(state["last"])
        self.train_seconds = float(state.get("train_seconds", 0.0))

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


class _RandomState:
    """torch, CUDA, numpy and Python RNG states as a weights-only-loadable state dict."""

    def state_dict(self) -> dict[str, Any]:
        name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
        state = {
            "torch": torch.get_rng_state(),
            "python": random.getstate(),
            "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)},
        }  # fmt: skip
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        n = state["numpy"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])


class _Constant:
    """A fixed dict saved in checkpoints (the generator's constructor arguments)."""

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = dict(value)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.value)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if dict(state) != self.value:
            logger.warning("checkpoint generator_config %s differs from this run's %s", dict(state), self.value)


def _image_grid(images: torch.Tensor, columns: int, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (C, rows * (H + pad), columns * (W + pad)) with black gaps."""
    n, c, h, w = images.shape
    rows = math.ceil(n / columns)
    padded = torch.full((rows * columns, c, h + pad, w + pad), -1.0, dtype=images.dtype)
    padded[:n, :, :h, :w] = images
    grid = padded.reshape(rows, columns, c, h + pad, w + pad).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + pad), columns * (w + pad))
    return grid[:, : rows * (h + pad) - pad, : columns * (w + pad) - pad]


@torch.no_grad()
def class_sample_grids(
    generator: StyleGAN2Generator, rows: int = 4, columns: int = 8, seed: int = 0, truncation_psi: float = 1.0
) -> dict[int | None, torch.Tensor]:
    """One grid (C, H', W') in [-1, 1] per class (key None when unconditional); the same z for every class.

    Many classes: only the first ones get a grid, at most ``MAX_REPORT_IMAGES`` images in all (logged).
    """
    from monai_synth.engines.report_cap import report_classes

    device = next(generator.parameters()).device
    z = torch.randn(rows * columns, generator.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    shown = report_classes(generator.num_classes, rows * columns)[0] if generator.num_classes else []
    classes: list[int | None] = list(shown) or [None]
    grids = {}
    for k in classes:
        labels = torch.full((z.shape[0],), k, device=device, dtype=torch.long) if k is not None else None
        images = generator(z, labels, truncation_psi=truncation_psi, noise_mode="const").float().clamp(-1, 1)
        grids[k] = _image_grid(images.cpu(), columns)
    return grids


class StyleGAN2Trainer(Engine):
    """Ignite engine training StyleGAN2-ADA with checkpoints, resume, transfer learning, TensorBoard and grids.

    Running the same command again resumes from the latest checkpoint in ``output_dir/checkpoints`` (a finished
    run only rewrites its sample grids). Otherwise, if ``resume_from`` names a checkpoint (file or folder),
    every layer whose name and shape match is loaded into G, G_ema and D (transfer learning).

    Args:
        step: the iteration (networks, optimisers, augmentation).
        data_loader: batches of dicts with ``image`` (B, C, H, W) in [-1, 1] and, if conditional, ``label``.
        output_dir: receives ``checkpoints/``, ``tensorboard/`` and ``samples_class<k>.png`` (``samples.png``).
        epochs: passes over the data (used when ``kimg`` is 0).
        kimg: train on this many thousand real images instead of ``epochs``.
        resume_from: checkpoint to transfer matching layers from when starting fresh ("" or None: none).
        checkpoint_every: iterations between checkpoints (the last iteration is always saved).
        n_saved: checkpoints kept on disk.
        log_every: iterations between log lines and TensorBoard scalars.
        grid_rows: rows of the sample grids (written at the end, EMA generator, fixed seed).
        grid_columns: columns of the sample grids.
        grid_seed: seed of the grid latents.
        evaluation: FID / KID / precision / recall settings (``interval`` epochs or ``interval_kimg``,
            ``num_samples``, ...; see ``monai_synth.engines.stylegan2.evaluation``); None or interval 0: off.
        handlers: more handlers with ``attach(engine)``, e.g. MONAI's ``MLFlowHandler`` that ``--tracking mlflow``
            adds to ``train#handlers``; they get the settings as parameters and the sample grids as artifacts.

    In a data-parallel run (torchrun, see ``bundles/stylegan2_ada/multi_gpu_train.json``) ``data_loader`` has a
    ``DistributedSampler``, ``kimg`` counts the images of all processes, and only rank 0 writes checkpoints,
    TensorBoard, grids, metrics and evaluations.
    """

    def __init__(
        self,
        step: StyleGAN2Step,
        data_loader: Iterable,
        output_dir: str | os.PathLike,
        epochs: int = 1,
        kimg: float = 0.0,
        resume_from: str | os.PathLike | None = None,
        checkpoint_every: int = 500,
        n_saved: int = 2,
        log_every: int = 20,
        grid_rows: int = 4,
        grid_columns: int = 8,
        grid_seed: int = 0,
        evaluation: Mapping[str, Any] | None = None,
        handlers: Sequence[Any] | None = None,
    ) -> None:
        super().__init__(step)
        self.step = step
        self.data_loader = data_loader
        self.epochs_data = EpochReplayLoader(data_loader)
        self.output_dir = Path(output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.epochs, self.kimg = int(epochs), float(kimg or 0.0)
        self.resume_from = resume_from or None
        self.log_every = max(1, int(log_every))
        self.grid = {"rows": grid_rows, "columns": grid_columns, "seed": grid_seed}
        self.to_save = {
            "trainer": self,
            **step.objects_to_checkpoint(),
            "rng": _RandomState(),
            "data_order": self.epochs_data,
            "generator_config": _Constant(step.generator.init_kwargs),
        }
        self.checkpointer = Checkpoint(
            self.to_save,
            DiskSaver(self.checkpoint_dir, atomic=True, require_empty=False),
            filename_prefix=CHECKPOINT_PREFIX,
            n_saved=n_saved,
            global_step_transform=lambda engine, _: engine.state.iteration,
        )
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.add_event_handler(Events.GET_BATCH_STARTED, self._start_clock)
        self.add_event_handler(Events.ITERATION_COMPLETED, self._stop_clock)  # before checkpoints and evaluation
        self.add_event_handler(Events.EPOCH_STARTED, self._shuffle_shards)
        self.add_event_handler(Events.ITERATION_COMPLETED(every=self.checkpoint_every), self.checkpointer)
        self.add_event_handler(Events.COMPLETED, self._save_last)
        self.add_event_handler(Events.ITERATION_COMPLETED(every=self.log_every), self._log)
        self.add_event_handler(Events.COMPLETED, self.write_sample_grids)
        self._tensorboard = None
        self._timer = time.perf_counter()
        self._clock: float | None = None
        self.fidelity: StyleGAN2FidelityMonitor | None = None
        if is_enabled(evaluation) and rank() == 0:
            self.fidelity = StyleGAN2FidelityMonitor(evaluation or {}, self.output_dir)
            self.fidelity.attach(self)
        self.add_event_handler(Events.COMPLETED, self.write_metrics)
        EpochMeans("stylegan2").attach(self)
        settings = {"epochs": self.epochs, "kimg": self.kimg, "resume_from": self.resume_from,
                    "batch_size": getattr(data_loader, "batch_size", None), **step.generator.init_kwargs}
        classes = int(step.generator.init_kwargs.get("num_classes", 0) or 0)
        grids = [self.output_dir / "samples.png", *(self.output_dir / f"samples_class{k}.png" for k in range(classes))]
        for handler in handlers or ():
            prepare_tracking_handler(handler, settings, grids)
            handler.attach(self)

    def total_iterations(self) -> int:
        """Iterations of the whole run: ``kimg`` thousand images, else ``epochs`` x batches per epoch."""
        per_epoch = len(self.data_loader)
        if per_epoch < 1:
            raise ValueError("the data loader yields no batch: fewer images than batch_size (drop_last=True)?")
        if self.kimg > 0:
            # rounded first, so that kimg = iterations x batch / 1000 gives exactly that many iterations
            return max(1, math.ceil(round(self.kimg * 1000.0 / self.global_batch_size(), 6)))
        return max(1, self.epochs) * per_epoch

    def resume(self) -> Path | None:
        """Load the latest own checkpoint (full state), else transfer from ``resume_from``; return what was used."""
        latest = latest_stylegan2_checkpoint(self.checkpoint_dir)
        if latest is not None:
            state = torch.load(latest, map_location="cpu", weights_only=True)
            to_load = {k: v for k, v in self.to_save.items() if k != "data_order" or k in state}  # older files lack it
            Checkpoint.load_objects(to_load, state)
            self.epochs_data.resume_at(self.state.iteration % len(self.data_loader))
            pattern = f"{CHECKPOINT_PREFIX}_checkpoint_*.pt"
            saved = sorted((int(p.stem.rsplit("_", 1)[1]), p.name) for p in self.checkpoint_dir.glob(pattern))
            self.checkpointer.load_state_dict({"_saved": saved})
            if world_size() > 1:  # every rank restored rank 0's RNG state: give each its own stream again
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,))) + rank())
            kimg = self.step.num_images / 1000
            logger.info("resumed from %s (iteration %d, %.1f kimg)", latest, self.state.iteration, kimg)
            return latest
        if self.resume_from is not None:
            networks = {"generator": self.step.generator, "generator_ema": self.step.generator_ema,
                        "discriminator": self.step.discriminator}  # fmt: skip
            transfer_stylegan2_weights(self.resume_from, networks)
            return Path(self.resume_from)
        return None

    def run(self) -> State:  # type: ignore[override]
        """Resume or transfer, then train until ``total_iterations()``; write the sample grids at the end."""
        from monai_synth.io.output_guard import check_output_dir

        if rank() == 0:
            check_output_dir(self.output_dir, [self.resume_from])  # never among other data
        self.resume()
        total = self.total_iterations()
        if self.state.iteration >= total and self.state.max_iters is not None:
            logger.info("training complete (%d/%d iterations): writing sample grids only", self.state.iteration, total)
            self.write_sample_grids()
            self.write_metrics()
            self._close_tensorboard()
            return self.state
        if self.state.max_iters is not None:
            self.state.max_iters = total
        kimg = total * self.global_batch_size() / 1000
        logger.info("training %d iterations (%.1f kimg) into %s", total, kimg, self.output_dir)
        try:
            return super().run(self.epochs_data, max_iters=total)
        finally:
            self._close_tensorboard()

    def _save_last(self, engine: Engine) -> None:
        if engine.state.iteration % self.checkpoint_every:
            self.checkpointer(engine)

    def global_batch_size(self) -> int:
        """Real images per iteration over all processes."""
        return (getattr(self.data_loader, "batch_size", None) or 1) * world_size()

    def _start_clock(self, engine: Engine) -> None:
        self._clock = time.perf_counter()

    def _stop_clock(self, engine: Engine) -> None:
        """Add the time of this iteration (batch + step; not checkpoints, evaluation or logging) to the total."""
        if self._clock is not None:
            self.step.train_seconds += time.perf_counter() - self._clock
            self._clock = None

    def _shuffle_shards(self, engine: Engine) -> None:
        """A new shuffle per epoch for a ``DistributedSampler`` (a plain shuffling loader needs nothing)."""
        sampler = getattr(self.data_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(engine.state.epoch)

    def writer(self) -> Any:
        """The TensorBoard ``SummaryWriter`` of this run (None on ranks other than 0)."""
        return self._writer() if rank() == 0 else None

    def _writer(self) -> Any:
        if self._tensorboard is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(log_dir=str(self.output_dir / "tensorboard"))
        return self._tensorboard

    def _close_tensorboard(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    def _log(self, engine: Engine) -> None:
        if rank() != 0:
            return
        out = engine.state.output
        for key, value in out.items():
            self._writer().add_scalar(f"train/{key}", value, engine.state.iteration)
        now = time.perf_counter()
        rate = self.log_every / max(now - self._timer, 1e-9)
        self._timer = now
        logger.info(
            "iter %d/%d kimg %.2f loss_g %.3f loss_d %.3f r1 %.4f pl %.3f p %.3f r_t %.2f (%.2f it/s)",
            engine.state.iteration, engine.state.max_iters or 0, out["kimg"], out["loss_g"], out["loss_d"],
            out["r1"], out["pl"], out["ada_p"], out["r_t"], rate,
        )  # fmt: skip

    def write_sample_grids(self, engine: Engine | None = None) -> list[Path]:
        """Write ``samples_class<k>.png`` (``samples.png`` if unconditional) from the EMA generator."""
        from monai_synth.io import write_png

        if rank() != 0:
            return []
        grids = class_sample_grids(self.step.generator_ema, self.grid["rows"], self.grid["columns"], self.grid["seed"])
        paths = []
        for k, grid in grids.items():
            path = self.output_dir / (f"samples_class{k}.png" if k is not None else "samples.png")
            paths.append(write_png(grid, path))
            self._writer().add_image(f"samples/{path.stem}", (grid + 1) / 2, self.state.iteration)
        self._writer().flush()
        logger.info("sample grids: %s", ", ".join(str(p) for p in paths))
        return paths

    def write_metrics(self, engine: Engine | None = None) -> Path | None:
        """Write ``metrics.json`` (length, measured seconds, ADA p, the fidelity curve and best FID); rank 0 only."""
        if rank() != 0:
            return None
        step, g = self.step, self.step.generator
        seconds = step.train_seconds
        metrics: dict[str, Any] = {
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": "stylegan2_ada",
            "iterations": int(self.state.iteration),
            "kimg": step.num_images / 1000.0,
            "batch_size": self.global_batch_size(),
            "world_size": world_size(),
            "train_seconds": round(seconds, 2),
            "images_per_second": round(step.num_images / seconds, 2) if seconds > 0 else 0.0,
            "ada_p": float(step.augment.p) if isinstance(step.augment, AdaptiveAugmentPipeline) else 0.0,
            "image_size": g.image_size,
            "channels": g.image_channels,
            "num_classes": g.num_classes,
            "device": str(step.device),
        }
        if self.fidelity is not None:
            metrics.update(self.fidelity.summary())
        path = self.output_dir / "metrics.json"
        with atomic_open(path) as handle:
            handle.write(json.dumps(metrics, indent=2).encode("utf-8"))
        return path


def _latent(z_dim: int, seed: int) -> torch.Tensor:
    """The latent z of one sample, from its own seed (CPU generator: the same on every device)."""
    return torch.randn(z_dim, generator=torch.Generator().manual_seed(seed))


class StyleGAN2SampleWriter:
    """Write samples of a trained StyleGAN2 generator (EMA weights) with one manifest line each.

    Sample i uses latent seed ``seed + i``, so every image can be regenerated alone.

    Args:
        checkpoint_dir: training checkpoint file, or folder whose latest checkpoint is used.
        output_dir: folder for the images and ``manifest.jsonl``.
        num_samples: images to write.
        class_label: class of every sample; None (or negative) cycles through the classes.
        truncation_psi: truncation towards the class mean of w (1: none, smaller: less diverse, more typical).
        fmt: "png", "nifti" or "dicom".
        seed: seed of the first sample.
        batch_size: samples generated at once.
        device: where to run the generator.
        window: (level, width) of the training intensity window, to write native units (e.g. HU), or None.
        modality: DICOM modality of the outputs.
        generator: a generator to load the weights into (e.g. built by a bundle's ``network_def``); None: built
            from the checkpoint's settings. ``checkpoint_dir`` may also be an exported bundle folder.
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike,
        output_dir: str | os.PathLike,
        num_samples: int = 16,
        class_label: int | None = None,
        truncation_psi: float = 1.0,
        fmt: str = "png",
        seed: int = 0,
        batch_size: int = 16,
        device: str | torch.device = "cpu",
        window: Sequence[float] | None = None,
        modality: str = "OT",
        generator: StyleGAN2Generator | None = None,
    ) -> None:
        self.checkpoint_dir, self.generator = checkpoint_dir, generator
        self.output_dir = Path(output_dir)
        self.num_samples, self.class_label, self.truncation_psi = int(num_samples), class_label, truncation_psi
        self.fmt, self.seed, self.batch_size, self.device = fmt, int(seed), max(1, int(batch_size)), device
        self.window = tuple(window) if window is not None else None
        self.modality = modality

    def _labels(self, generator: StyleGAN2Generator, indices: range) -> list[int | None]:
        if generator.num_classes == 0:
            if self.class_label not in (None, -1, 0):
                raise ValueError(f"class_label {self.class_label}: this generator is unconditional.")
            return [None] * len(indices)
        if self.class_label is None or self.class_label < 0:
            return [i % generator.num_classes for i in indices]
        if self.class_label >= generator.num_classes:
            raise ValueError(f"class_label must be in [0, {generator.num_classes}), got {self.class_label}.")
        return [int(self.class_label)] * len(indices)

    @torch.no_grad()
    def run(self) -> list[Path]:
        """Generate and write the samples; return the written paths."""
        from monai_synth.io import ManifestWriter, save_generated, sha256_file
        from monai_synth.io.output_guard import check_output_dir

        check_output_dir(self.output_dir)  # never among acquired images
        generator, checkpoint = load_stylegan2_generator(self.checkpoint_dir, self.device, generator=self.generator)
        digest = sha256_file(checkpoint)
        paths: list[Path] = []
        with ManifestWriter(self.output_dir) as manifest:
            for start in range(0, self.num_samples, self.batch_size):
                indices = range(start, min(start + self.batch_size, self.num_samples))
                labels = self._labels(generator, indices)
                z = torch.stack([_latent(generator.z_dim, self.seed + i) for i in indices]).to(self.device)
                lab = torch.tensor(labels, device=self.device) if labels[0] is not None else None
                images = generator(z, lab, truncation_psi=self.truncation_psi, noise_mode="const").float().clamp(-1, 1)
                records = [
                    {"model": "stylegan2_ada", "checkpoint_sha256": digest, "seed": self.seed + i,
                     "condition": {"class_label": k} if k is not None else None, "sampler": "stylegan2",
                     "steps": None, "guidance_scale": None, "truncation_psi": self.truncation_psi}
                    for i, k in zip(indices, labels)
                ]  # fmt: skip
                names = [f"stylegan2_{self.seed + i:06d}" for i in indices]
                paths += save_generated(images.cpu(), self.output_dir, names, fmt=self.fmt, manifest=manifest,
                                        records=records, window=self.window, modality=self.modality)  # fmt: skip
        logger.info("wrote %d samples to %s", len(paths), self.output_dir)
        return paths
