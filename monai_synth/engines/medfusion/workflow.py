"""Medfusion training workflow: autoencoder phase, latent diffusion phase, then a report.

After Mueller-Franzes et al., "Diffusion Probabilistic Models beat GAN on Medical 2D Images" (Medfusion),
reference code mueller-franzes/medfusion. The bundle config (``bundles/medfusion/train.json``) builds one
``MedfusionWorkflow`` from plain settings; the workflow stores the network settings in its final
checkpoints, so sampling rebuilds exactly the trained networks (``load_medfusion``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import ignite.distributed as idist
import torch
from torch import nn

from monai_synth.engines.checkpoint import load_state, sha256_of
from monai_synth.engines.components import build, complete, definition, describe, flatten
from monai_synth.engines.medfusion.report import write_report
from monai_synth.engines.progress import PhasePreview, tile
from monai_synth.engines.run_files import now_iso, save_json_atomic  # noqa: F401 (re-exported)
from monai_synth.engines.image_tensors import ImageTensorSet, load_image_tensors
from monai_synth.handlers.metrics_handler import BestFidCheckpoint, GenerativeFidelityHandler
from monai_synth.io.output_guard import check_output_dir
from monai_synth.engines.batch_source import SeededBatches
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.engines.precision import autocast_for
from monai_synth.engines.run_record import add_to_run_record, check_run_record, dataset_fingerprint
from monai_synth.engines.training_budget import remaining_minutes, spent_wall_seconds, split_budget
from monai_synth.engines.training_run import TrainingPhase
from monai_synth.handlers.ema import WeightEMA
from monai_synth.io.model_bundle import (
    bundle_weights_path,
    is_exported_bundle,
    read_bundle_sampling,
    read_bundle_settings,
    read_bundle_weights,
)
from monai_synth.networks.medfusion_vae import LatentImageAutoencoder

logger = logging.getLogger("monai_synth")

#: settings a finished or resumed run may change: they do not change the weights
MEDFUSION_HARMLESS = ("out", "checkpoint_every", "log_every", "device", "evaluation", "sample_args", "preview_every")


class MedfusionWorkflow:
    """Train Medfusion's two phases on one dataset and write checkpoints, sample grids, curves and metrics.

    ``bundles/medfusion/train.json`` wires every part and holds every default. The networks, optimisers, noise
    schedule and steps arrive as factories (``"_mode_": "callable"``): the workflow completes them with what only
    the data tells (the number of classes, the latents) and stores their definitions
    (:mod:`monai_synth.engines.components`) with the weights, so sampling and export rebuild exactly the trained
    networks (``load_medfusion``).

    Args:
        output_dir: run folder (``autoencoder/``, ``diffusion/``, ``samples_grid.png``, ``metrics.json``...).
        dataset_dir: any source the data layer reads; empty = the embedded phantom data.
        image_size / channels / num_classes / intensity / window / split / phantom_count: the data layer's settings.
        autoencoder_def: factory of the autoencoder (``LatentImageAutoencoder`` settings).
        discriminator_def: factory of the PatchGAN discriminator, or None for no adversarial term.
        unet_def: factory of the latent denoiser; the workflow adds ``num_class_embeds`` (classes + "no label").
        noise_schedule: factory of the training noise schedule.
        autoencoder_optimizer / discriminator_optimizer / optimizer: optimiser factories, called with parameters.
        autoencoder_loss: the autoencoder's reconstruction loss.
        autoencoder_step / diffusion_step: step factories (``AutoencoderStep``, ``LatentDiffusionStep``) holding
            their own settings (adversarial weight, label dropout...); the workflow adds networks, data and rank.
        autoencoder_epochs / diffusion_epochs: epochs of each phase.
        batch_size / autoencoder_batch_size: per-rank batch sizes of the diffusion / autoencoder phase.
        adversarial_start_epoch: first epoch of the autoencoder phase with the adversarial terms.
        ema_decay: EMA decay of the UNet weights (0 disables EMA; sampling then uses the raw weights).
        prediction: what the denoiser predicts: "epsilon" or "v" (DDPM schedule), "velocity" (rectified flow) or
            "edm" (EDM).
        latent_norm: "global" (one scale: 1 / std of all latents) or "channel" (each channel to mean 0, std 1).
        sample: settings of the sample grids (``sampler``, ``steps``, ``eta``, ``guidance_scale``, ``per_class``).
        evaluation: FID / KID / precision / recall settings while training (``interval`` 0: off).
        precision / autoencoder_precision: "fp32" | "bf16" | "fp16" of the diffusion / autoencoder phase;
            channels_last: NHWC activations.
        checkpoint_every / log_every / preview_every: iterations between checkpoints and log lines, epochs
            between previews (0: off).
        seed: everything random derives from it; device: "cpu", "cuda", "cuda:1"...
        handlers: Ignite handlers attached to both phases' engines (``--tracking mlflow`` adds MLflow here).
    """

    def __init__(
        self,
        output_dir: str,
        dataset_dir: str | None,
        image_size: int,
        channels: int,
        num_classes: int | None,
        intensity: str,
        window: str | None,
        split: str,
        phantom_count: int,
        autoencoder_def: Callable[..., nn.Module],
        discriminator_def: Callable[..., nn.Module] | None,
        unet_def: Callable[..., nn.Module],
        noise_schedule: Callable[..., Any],
        autoencoder_optimizer: Callable[..., torch.optim.Optimizer],
        discriminator_optimizer: Callable[..., torch.optim.Optimizer],
        optimizer: Callable[..., torch.optim.Optimizer],
        autoencoder_loss: Any,
        autoencoder_step: Callable[..., Any],
        diffusion_step: Callable[..., Any],
        autoencoder_epochs: int,
        diffusion_epochs: int,
        budget_minutes: float | None,
        autoencoder_budget_share: float,
        batch_size: int,
        autoencoder_batch_size: int,
        adversarial_start_epoch: int,
        ema_decay: float,
        prediction: str,
        latent_norm: str,
        sample: dict,
        evaluation: dict | None,
        precision: str,
        autoencoder_precision: str | None,
        channels_last: bool,
        checkpoint_every: int,
        log_every: int,
        preview_every: int,
        seed: int,
        device: str,
        skip_bad: bool,
        nonfinite: str,
        handlers: list | None = None,
    ) -> None:
        self.out = Path(output_dir)
        self.dataset_dir = dataset_dir or None
        self.image_size, self.channels = int(image_size), int(channels)
        self.intensity, self.window, self.split = intensity, window, split
        self.phantom_count, self.num_classes = int(phantom_count), num_classes
        self.factories = {"autoencoder_def": autoencoder_def, "discriminator_def": discriminator_def,
                          "unet_def": unet_def, "noise_schedule": noise_schedule,
                          "autoencoder_optimizer": autoencoder_optimizer,
                          "discriminator_optimizer": discriminator_optimizer, "optimizer": optimizer,
                          "autoencoder_step": autoencoder_step, "diffusion_step": diffusion_step}  # fmt: skip
        self.autoencoder_loss = autoencoder_loss
        self.ae_epochs, self.dm_epochs = int(autoencoder_epochs), int(diffusion_epochs)
        self.budget_minutes = float(budget_minutes) if budget_minutes is not None else None
        self.autoencoder_budget_share = float(autoencoder_budget_share)
        if not 0.0 < self.autoencoder_budget_share < 1.0:
            raise ValueError(f"autoencoder_budget_share must be between 0 and 1 (the autoencoder's share of "
                             f"budget_minutes), got {autoencoder_budget_share!r}")
        self._phase_budgets = split_budget(self.budget_minutes, [self.autoencoder_budget_share,
                                                                 1.0 - self.autoencoder_budget_share])
        self.skip_bad, self.nonfinite = bool(skip_bad), nonfinite
        self.batch_size, self.ae_batch_size = int(batch_size), int(autoencoder_batch_size)
        self.adv_start_epoch = int(adversarial_start_epoch)
        self.ema_decay, self.prediction = float(ema_decay), prediction
        if latent_norm not in ("global", "channel"):
            raise ValueError(f"latent_norm must be 'global' or 'channel', got {latent_norm!r}")
        self.latent_norm = latent_norm
        self.sample_args = dict(sample)
        self.evaluation = evaluation
        self.precision, self.channels_last = precision, bool(channels_last)
        self.ae_precision = autoencoder_precision or precision
        self.checkpoint_every, self.log_every = int(checkpoint_every), int(log_every)
        self.preview_every = int(preview_every)
        self.seed = int(seed)
        self.device = torch.device(device if (device != "cuda" or torch.cuda.is_available()) else "cpu")
        self.handlers = list(handlers or [])
        self.rank, self.world = idist.get_rank(), idist.get_world_size()
        self.timings: dict[str, float] = {}
        self.budget_spent: dict[str, dict] = {}

    # ------------------------------------------------------------------ public
    def run(self) -> dict[str, Any]:
        """Train both phases (resuming or skipping finished ones), then write the report; return metrics."""
        torch.manual_seed(self.seed)

        check_output_dir(self.out, [self.dataset_dir])  # never inside, or holding, the data; never among other data
        data = load_image_tensors(
            self.dataset_dir, self.image_size, self.channels, self.intensity, self.window, self.split,
            self.phantom_count, self.seed, num_classes=self.num_classes, skip_bad=self.skip_bad,
            nonfinite=self.nonfinite, size_hint=self.image_size, report_path=self.out / "skipped_inputs.csv",
        )
        self.record = self.check_run_folder(data)
        vae = self.train_autoencoder(data)
        unet_ema, extra = self.train_diffusion(data, vae)
        if self.rank != 0:
            return {}
        return self.report(data, vae, unet_ema, extra)

    def settings(self) -> dict[str, Any]:
        """What makes this run: plain settings plus the definitions of its components (JSON-able)."""
        skip = ("handlers", "timings", "record", "rank", "world", "factories", "autoencoder_loss", "budget_spent")
        plain = {k: v for k, v in vars(self).items() if k not in skip and not k.startswith("_")}
        parts = {k: definition(f) if f is not None else None for k, f in self.factories.items()}
        return {**plain, **flatten({**parts, "autoencoder_loss": describe(self.autoencoder_loss)})}

    def tracking_params(self) -> dict[str, Any]:
        """The settings a tracking handler records as the run's parameters."""
        return {k: v for k, v in self.settings().items() if k != "out"}

    def check_run_folder(self, data: ImageTensorSet) -> dict[str, Any]:
        """Record (first run) or check (rerun) the settings and dataset of ``run_record.json``; see ``run_record``."""
        return check_run_record(self.out / "run_record.json", self.settings(), dataset_fingerprint(data.files),
                                MEDFUSION_HARMLESS, write=self.rank == 0)

    def train_autoencoder(self, data: ImageTensorSet) -> LatentImageAutoencoder:
        """Phase 1: the VAE (+ PatchGAN discriminator); returns the trained VAE in eval mode."""
        vae, ae_def = complete(self.factories["autoencoder_def"])
        vae = vae.to(self.device)
        if self.channels_last:
            # in every process, trained here or loaded: the memory format changes the convolutions' rounding, so
            # a run resumed in the diffusion phase would otherwise encode slightly different latents
            vae.to(memory_format=torch.channels_last)
        phase_dir = self.out / "autoencoder"
        if not (phase_dir / "final.pt").exists():
            disc = None
            if self.factories["discriminator_def"] is not None:
                disc = self.factories["discriminator_def"]().to(self.device)
                if self.channels_last:
                    disc = disc.to(memory_format=torch.channels_last)
            opt_g = self.factories["autoencoder_optimizer"](vae.parameters())
            opt_d = self.factories["discriminator_optimizer"](disc.parameters()) if disc is not None else None
            batches = SeededBatches({"image": data.images}, self.ae_batch_size, self.seed, self.device, self.rank,
                                    self.world)  # fmt: skip
            per_epoch = len(batches)
            adversarial_start = self.adv_start_epoch * per_epoch + 1
            step = self.factories["autoencoder_step"](
                vae=self._distribute(vae), discriminator=self._distribute(disc), opt_g=opt_g, opt_d=opt_d,
                loss=self.autoencoder_loss, adversarial_start=adversarial_start, device=self.device,
                precision=self.ae_precision, channels_last=self.channels_last,
            )
            to_save: dict[str, Any] = {"autoencoder": vae, "opt_g": opt_g}
            if disc is not None:
                to_save.update(discriminator=disc, opt_d=opt_d)
            phase = TrainingPhase(
                "autoencoder", self.out, step, to_save, {"autoencoder": vae}, per_epoch, self.ae_epochs,
                self.checkpoint_every, self.log_every, final_extra=lambda: {"autoencoder_def": ae_def},
                handlers=self.handlers, preview=self._reconstruction_preview(vae, data), preview_every=self.preview_every,
                tracking_params=self.tracking_params(), last_phase=False, budget_minutes=self._phase_budgets[0],
                batches=batches, budget_steady_from=adversarial_start if disc is not None else 1,
            )
            phase.run()
            self._record_budget("autoencoder", phase)
            self.timings["autoencoder_seconds"] = phase.seconds
            self.timings["autoencoder_images_per_second"] = phase.images_per_second(self.ae_batch_size * self.world)
        vae.load_state_dict(load_state(phase_dir / "final.pt", self.device)["autoencoder"])
        return vae.eval().requires_grad_(False)

    def train_diffusion(self, data: ImageTensorSet, vae: LatentImageAutoencoder) -> tuple[nn.Module, dict]:
        """Phase 2: UNet on the frozen VAE's scaled latents; returns the EMA UNet and the sampling settings."""
        mu, sigma = encode_all(vae, data.images, self.device, self.ae_precision)
        mu, sigma, scale, shift = normalise_latents(mu, sigma, self.latent_norm)
        n_cls = data.num_classes
        torch.manual_seed(self.seed + 1)  # the same initial UNet whether or not phase 1 ran in this process
        unet, unet_def = complete(self.factories["unet_def"], num_class_embeds=n_cls + 1)  # + "no label"
        unet = unet.to(self.device)
        if self.channels_last:
            unet = unet.to(memory_format=torch.channels_last)
        schedule, schedule_def = complete(self.factories["noise_schedule"])
        schedule = schedule.to(self.device)
        extra = {
            "latent_scale": scale,
            "latent_shift": shift,
            "latent_norm": self.latent_norm,
            "latent_shape": list(mu.shape[1:]),
            "num_classes": n_cls,
            "null_label": n_cls,
            "class_names": data.class_names,
            "unet_def": unet_def,
            "noise_schedule_def": schedule_def,
            "prediction": self.prediction,
            "intensity": data.intensity,
            "image_size": self.image_size,
            "channels": self.channels,
        }
        phase_dir = self.out / "diffusion"
        if not (phase_dir / "final.pt").exists():
            ema = WeightEMA(unet, self.ema_decay) if self.ema_decay > 0 else None
            opt = self.factories["optimizer"](unet.parameters())
            batches = SeededBatches({"mu": mu, "sigma": sigma, "label": data.labels}, self.batch_size, self.seed,
                                    self.device, self.rank, self.world)  # fmt: skip
            per_epoch = len(batches)
            step = self.factories["diffusion_step"](
                unet=self._distribute(unet), optimizer=opt, ema=ema, schedule=schedule, scale=1.0, null_label=n_cls,
                prediction=self.prediction, device=self.device, precision=self.precision,
                channels_last=self.channels_last,
            )
            to_save: dict[str, Any] = {"unet": unet, "optimizer": opt}
            final: dict[str, Any] = {"unet": unet}
            if ema is not None:
                to_save["ema"] = ema
                final["unet_ema"] = ema.ema
            sampling_net = ema.ema if ema is not None else unet
            fidelity = self._fidelity_handlers(data, vae, sampling_net, schedule, extra)
            phase = TrainingPhase(
                "diffusion", self.out, step, to_save, final, per_epoch, self.dm_epochs,
                self.checkpoint_every, self.log_every, final_extra=lambda: extra,
                handlers=self.handlers + fidelity, preview=self._sample_preview(vae, sampling_net, schedule, extra),
                preview_every=self.preview_every, tracking_params=self.tracking_params(),
                budget_minutes=self._diffusion_budget_minutes(), batches=batches,
            )
            phase.run()
            self._record_budget("diffusion", phase)
            self.timings["diffusion_seconds"] = phase.seconds
            self.timings["diffusion_images_per_second"] = phase.images_per_second(self.batch_size * self.world)
        state = load_state(phase_dir / "final.pt", self.device)
        unet.load_state_dict(state.get("unet_ema", state["unet"]))
        return unet.eval().requires_grad_(False), extra

    def report(self, data: ImageTensorSet, vae: nn.Module, unet: nn.Module, extra: dict) -> dict[str, Any]:
        """Sample grid per class, loss curves, and ``metrics.json`` in the run folder."""
        return write_report(self, data, vae, unet, extra)

    # ---------------------------------------------------------------- helpers
    def budget_summary(self) -> dict[str, dict]:
        """Planned and spent time of each phase trained on a budget (this run's and earlier runs')."""
        path = self.out / "run_record.json"
        earlier = json.loads(path.read_text()).get("budget", {}) if path.is_file() else {}
        return {**earlier, **self.budget_spent}

    def _diffusion_budget_minutes(self) -> float | None:
        """The diffusion phase's budget: the run's budget less the autoencoder's spent wall-clock seconds.

        Its share (``1 - autoencoder_budget_share``) where the autoencoder has no budget record, and never less
        than half of that share. So an autoencoder phase that ran over or under its share (it ends on whole
        epochs) does not change the run's total.
        """
        if self.budget_minutes is None:
            return None
        share = self._phase_budgets[1]
        spent = spent_wall_seconds(self.out / "autoencoder")
        return share if spent is None else remaining_minutes(self.budget_minutes, spent, 0.5 * share)

    def _record_budget(self, name: str, phase: TrainingPhase) -> None:
        """Planned and spent time of a phase trained on a budget, in ``run_record.json`` (``budget#<phase>``)."""
        record = phase.budget_record()
        if record is None or self.rank != 0:
            return
        self.budget_spent[name] = record
        add_to_run_record(self.out / "run_record.json", "budget", self.budget_summary())

    def _reconstruction_preview(self, vae: nn.Module, data: ImageTensorSet):
        """Autoencoder previews: the first 8 training images over their reconstructions."""

        @torch.no_grad()
        def grid() -> torch.Tensor:
            x = data.images[:8].to(self.device)
            was_training = vae.training
            vae.eval()
            with autocast_for(self.device, self.ae_precision):
                rec = vae.decode(vae.encode(x)[0]).float()
            vae.train(was_training)
            return tile(torch.cat([x.cpu(), rec.cpu()]), columns=len(x))

        return PhasePreview(self.out / "autoencoder", "autoencoder", grid if self.rank == 0 else None)

    def pipeline(self, vae: nn.Module, net: nn.Module, schedule, extra: dict, **sampling: Any) -> MedfusionPipeline:
        """The sampling pipeline of the networks being trained, with the grid's settings (or ``sampling``)."""
        settings = {k: self.sample_args[k] for k in ("sampler", "steps", "eta", "guidance_scale")}
        model = {**extra, "vae": vae, "unet": net, "schedule": schedule}
        return MedfusionPipeline(model, **{**settings, **sampling}, device=self.device, precision=self.precision,
                                 channels_last=self.channels_last)

    def _sample_preview(self, vae: nn.Module, net: nn.Module, schedule, extra: dict):
        """Diffusion previews: one sample of each of the first 8 classes, fixed seeds, at most 25 steps."""
        pipeline = self.pipeline(vae, net, schedule, extra, steps=min(int(self.sample_args["steps"]), 25))

        def grid() -> torch.Tensor:
            labels = torch.arange(min(extra["num_classes"], 8))
            return tile(pipeline(labels, seed=self.seed + 9_000_000).cpu(), columns=len(labels))

        return PhasePreview(self.out / "diffusion", "diffusion", grid if self.rank == 0 else None)

    def _fidelity_handlers(self, data: ImageTensorSet, vae: nn.Module, net: nn.Module, schedule, extra: dict) -> list:
        """FID / KID / precision / recall every ``evaluation["interval"]`` epochs, best checkpoint by FID.

        ``evaluation`` settings: ``interval`` (epochs), ``num_samples``, ``sampler``, ``steps``, ``eta`` (DDIM),
        ``guidance_scale``. Samples are balanced over the classes and use the same seeds at every
        evaluation, so the curve compares like with like. Only rank 0 evaluates.
        """
        ev = self.evaluation
        if not ev or int(ev.get("interval", 0)) < 1 or self.rank != 0:
            return []

        num = int(ev["num_samples"])
        pipeline = self.pipeline(vae, net, schedule, extra, sampler=ev["sampler"], steps=int(ev["steps"]),
                                 eta=float(ev["eta"]), guidance_scale=float(ev["guidance_scale"]))
        produced = [0]

        def sample_fn(n: int) -> torch.Tensor:
            first = produced[0] % num
            produced[0] += n
            labels = torch.arange(first, first + n) % extra["num_classes"]
            return pipeline(labels, seed=self.seed + 7_000_000, first_index=first)

        handler = GenerativeFidelityHandler(
            sample_fn, data.images, num_samples=num, interval=int(ev["interval"]),
            sample_batch_size=int(ev["batch_size"]), kid_subset_size=min(1000, num, len(data)),
        )
        best = BestFidCheckpoint({"unet_ema": net, **{k: v for k, v in extra.items() if k != "intensity"}},
                                 self.out / "diffusion")
        return [handler, best]

    def _distribute(self, net: nn.Module | None) -> nn.Module | None:
        if net is None or self.world == 1:
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)


@torch.no_grad()
def encode_all(
    vae: LatentImageAutoencoder, images: torch.Tensor, device: torch.device, precision: str = "fp32", batch: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and std of the latents of every image, computed once (the VAE is frozen)."""
    mus, sigmas = [], []
    for start in range(0, images.shape[0], batch):
        with autocast_for(device, precision):
            mu, sigma = vae.encode(images[start : start + batch].to(device))
        mus.append(mu.float().cpu())
        sigmas.append(sigma.float().cpu())
    return torch.cat(mus), torch.cat(sigmas)


def normalise_latents(
    mu: torch.Tensor, sigma: torch.Tensor, mode: str
) -> tuple[torch.Tensor, torch.Tensor, float | list[float], float | list[float]]:
    """Scale (and for "channel", centre) the latent posteriors; return them with the scale and shift used.

    The diffusion model sees ``(z - shift) * scale``; the decoder gets ``z / scale + shift`` back.
    """
    if mode == "global":
        scale = float(1.0 / mu.float().std())
        return mu * scale, sigma * scale, scale, 0.0
    shift = mu.float().mean((0, 2, 3))
    scale = 1.0 / mu.float().std((0, 2, 3))
    view = (1, -1, 1, 1)
    return (mu - shift.view(view)) * scale.view(view), sigma * scale.view(view), scale.tolist(), shift.tolist()


def load_medfusion(checkpoint_dir: str | Path, device: str | torch.device = "cpu", unet: nn.Module | None = None,
                   vae: nn.Module | None = None) -> dict[str, Any]:
    """Rebuild the trained VAE and EMA UNet from a training output folder or an exported bundle folder.

    Args:
        checkpoint_dir: the ``output_dir`` of ``train.json``, or a bundle written by ``monai-synth export``.
        device: where to put the networks.
        unet / vae: networks to load the weights into (e.g. built by a bundle's ``network_def``); None: built
            from the stored settings.

    Returns a dict with ``vae``, ``unet``, ``schedule`` and the sampling settings stored at training time
    (``latent_scale``, ``latent_shape``, ``null_label``, ``prediction``...), plus ``checkpoint_sha256`` and
    ``autoencoder_sha256`` (of ``final.pt`` files, or of the bundle's ``models/*.pt``), and ``sampling``: the
    sampler settings the model was trained to be sampled with (``train.json``'s ``sample``, recorded in the run's
    ``metrics.json``; a bundle's ``inference.json`` defaults), which a pipeline takes for any it is not given.
    """
    device = torch.device(device)
    ckdir = Path(checkpoint_dir)
    ae_state, dm_state, ae_path, dm_path = _medfusion_states(ckdir, device)
    vae = (vae if vae is not None else build(ae_state["autoencoder_def"])).to(device)
    vae.load_state_dict(ae_state["autoencoder"])
    unet = (unet if unet is not None else build(dm_state["unet_def"])).to(device)
    unet.load_state_dict(dm_state.get("unet_ema", dm_state["unet"]))
    info = {k: v for k, v in dm_state.items() if k not in ("unet", "unet_ema", "history")}
    info.update(
        vae=vae.eval().requires_grad_(False),
        unet=unet.eval().requires_grad_(False),
        schedule=build(dm_state["noise_schedule_def"]).to(device),
        source=str(checkpoint_dir),
        checkpoint_sha256=sha256_of(dm_path),
        autoencoder_sha256=sha256_of(ae_path),
        sampling=_recorded_sampling(ckdir),
    )
    return info


def _recorded_sampling(ckdir: Path) -> dict[str, Any]:
    """``sampler``, ``steps``, ``eta`` and ``guidance_scale`` as the run recorded them (``metrics.json#sampler``)
    or as an exported bundle's ``inference.json`` sets them; empty where neither has them."""
    keys = ("sampler", "steps", "eta", "guidance_scale")
    metrics = ckdir / "metrics.json"
    if is_exported_bundle(ckdir):
        recorded = read_bundle_sampling(ckdir)
    elif not metrics.is_file():
        return {}
    else:
        try:
            recorded = json.loads(metrics.read_text(encoding="utf-8")).get("sampler") or {}
        except (json.JSONDecodeError, AttributeError) as e:
            raise ValueError(f"{metrics}: not a run's metrics file ({e})") from e
    return {k: recorded[k] for k in keys if recorded.get(k) is not None}


def _medfusion_states(ckdir: Path, device: torch.device) -> tuple[dict, dict, Path, Path]:
    """(autoencoder state, diffusion state, their files) of a run folder or of an exported bundle."""
    if is_exported_bundle(ckdir):
        settings = read_bundle_settings(ckdir)
        if settings["kind"] != "medfusion":
            raise ValueError(f"{ckdir}: the bundle holds a {settings['kind']} model, not a Medfusion model")
        ae_state = {"autoencoder_def": settings["autoencoder_def"],
                    "autoencoder": read_bundle_weights(ckdir, "autoencoder", device)}
        dm_state = {k: v for k, v in settings.items() if k not in ("kind", "autoencoder_def")}
        dm_state["unet"] = read_bundle_weights(ckdir, "model", device)
        return ae_state, dm_state, bundle_weights_path(ckdir, "autoencoder"), bundle_weights_path(ckdir)
    ae_path, dm_path = ckdir / "autoencoder" / "final.pt", ckdir / "diffusion" / "final.pt"
    for p in (ae_path, dm_path):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no trained model here; run bundles/medfusion/train.json first")
    ae_state, dm_state = load_state(ae_path, device), load_state(dm_path, device)
    if "unet_def" not in dm_state or "autoencoder_def" not in ae_state:
        raise ValueError(f"{ckdir}: trained by an older monai_synth (no network definitions in final.pt); train it "
                         "again, or export it with the version that trained it")
    return ae_state, dm_state, ae_path, dm_path
