"""Med-cDiff training workflow: a conditional pixel-space DDPM, or a pix2pix / SRGAN baseline, then a report.

After "Med-cDiff: Conditional Medical Image Generation with Diffusion Models" (Bioengineering 2023): the
degraded image is concatenated to the noisy image as input channels of a group-norm UNet that predicts the
noise; T = 2000, betas linear from 1e-4 to 0.02, learning rate 1e-4; sampling with DDPM (sigma_t^2 = beta_t)
or the fast samplers of :mod:`monai_synth.diffusion`. The bundle config (``bundles/med_cdiff/train.json``)
builds one :class:`MedCDiffWorkflow`; each model trains as one resumable phase in ``output_dir/<model>/``,
so the three models can share one output folder, which is then the ``checkpoint_dir`` of inference and
evaluation (:func:`load_restorer`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from torch import nn

from monai_synth.engines.image_tensors import ImageTensorSet, load_image_tensors
from monai_synth.seeding import iterations_per_epoch
from monai_synth.engines.med_cdiff.restorer import (
    InterpolationRestorer,
    Restorer,
    build_discriminator,
    build_generator,
    check_model_task,
    load_restorer,
)
from monai_synth.engines.med_cdiff.steps import ConditionalDiffusionStep, Pix2PixStep, RestorationBatches, SRGANStep
from monai_synth.engines.training_run import TrainingPhase
from monai_synth.handlers.ema import WeightEMA
from monai_synth.transforms.degradation import make_degradation

__all__ = ["MedCDiffWorkflow", "Restorer", "InterpolationRestorer", "load_restorer", "default_network_args"]

logger = logging.getLogger("monai_synth")

#: settings a finished or resumed run may change: they do not change the weights
MED_CDIFF_HARMLESS = ("out", "checkpoint_every", "log_every", "device", "sample_args", "report_images", "preview_every")

PAPER_SCHEDULE = {"num_steps": 2000, "kind": "linear", "beta_start": 1e-4, "beta_end": 0.02}


def default_network_args(model: str) -> dict[str, Any]:
    """Small CPU-sized networks of each model (the bundle's ``networks`` key overrides them)."""
    if model == "diffusion":
        return {"channels": [32, 64, 64], "attention_levels": [False, False, False], "norm_num_groups": 16}
    if model == "pix2pix":
        return {"generator": {"features": 32, "depth": 6}, "discriminator": {"channels": 32, "num_layers_d": 3}}
    return {"generator": {"features": 32, "num_blocks": 8}, "discriminator": {"features": 32, "num_stages": 3, "dense": 256}}


def effective_network_args(model: str, args: dict | None, image_size: int) -> dict[str, Any]:
    """The settings the networks are built with: pix2pix's depth is capped so the bottleneck is >= 1 pixel."""
    args = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (args or default_network_args(model)).items()}
    if model == "pix2pix":
        from monai_synth.networks.pix2pix import max_unet_depth

        gen = args.setdefault("generator", {})
        gen["depth"] = min(int(gen.get("depth", 8)), max_unet_depth(image_size))
    return args


class MedCDiffWorkflow:
    """Train one Med-cDiff restorer on one dataset and task; write its checkpoint, a restoration grid and metrics.

    Args:
        output_dir: run folder; the model trains in ``output_dir/<model>/`` and the report is
            ``output_dir/<model>_grid.png`` (rows: clean / degraded / restored per setting) and
            ``output_dir/<model>_metrics.json``.
        dataset_dir: any source the data layer reads; empty = the embedded phantom data.
        task: "sr", "denoise" or "inpaint".
        degradation: degradation settings (see :func:`monai_synth.transforms.make_degradation`).
        model: "diffusion" (Med-cDiff), "pix2pix" or "srgan" (task "sr" only).
        image_size / channels: square training size and image channels.
        epochs / batch_size / learning_rate: training length, per-rank batch, Adam(W) learning rate.
        network_args: settings of the model's networks (``default_network_args`` when None).
        schedule_args: ``make_schedule`` settings (default T = 2000, linear 1e-4..0.02).
        sample: report sampling settings of the diffusion model (``sampler``, ``steps``, ``eta``, ``strength``);
            default stochastic DDIM (eta 1), 50 steps from pure noise (strength 1). Stochastic DDIM forgets early
            errors that deterministic samplers keep with T = 2000 (``alphas_cumprod[T-1]`` ~ 1.6e-9) on a briefly
            trained model; ``strength`` < 1 starts from the noised degraded image (the bundle uses 0.35).
        precision: "fp32" | "bf16" (autocast) | "fp16" (CUDA only); channels_last: NHWC activations.
        intensity / window / split / phantom_count / num_classes: data layer settings.
        seed: everything random derives from it; device: "cpu", "cuda", "cuda:1"...
        handlers: extra Ignite handlers attached to the engine (e.g. MLflow tracking).
        ema_decay: EMA decay of the diffusion UNet (0: sample with the raw weights).
        pix2pix_l1_weight: lambda of pix2pix's L1 term (100 in the paper).
        srgan_adversarial_weight: weight of SRGAN's adversarial term (1e-3 in the paper).
        checkpoint_every / log_every: iterations between checkpoints / loss log lines.
        report_images: images per setting in the report.
    """

    def __init__(
        self,
        output_dir: str,
        dataset_dir: str | None = None,
        task: str = "sr",
        degradation: dict | None = None,
        model: str = "diffusion",
        image_size: int = 64,
        channels: int = 1,
        epochs: int = 50,
        batch_size: int = 16,
        learning_rate: float = 1e-4,
        network_args: dict | None = None,
        schedule_args: dict | None = None,
        sample: dict | None = None,
        precision: str = "fp32",
        channels_last: bool = False,
        intensity: str = "auto",
        window: str | None = None,
        split: str = "train",
        phantom_count: int = 256,
        num_classes: int | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
        handlers: list | None = None,
        ema_decay: float = 0.999,
        pix2pix_l1_weight: float = 100.0,
        srgan_adversarial_weight: float = 1e-3,
        checkpoint_every: int = 200,
        log_every: int = 10,
        report_images: int = 4,
    ) -> None:
        check_model_task(model, task)
        self.out, self.dataset_dir = Path(output_dir), dataset_dir or None
        self.task, self.model = task, model
        self.degradation_args = dict(degradation or {})
        self.degradation = make_degradation(task, self.degradation_args)
        self.image_size, self.channels = int(image_size), int(channels)
        self.cond_channels = self.degradation.condition_channels(self.channels)
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), float(learning_rate)
        self.network_args = effective_network_args(model, network_args, self.image_size)
        self.schedule_args = dict(schedule_args or PAPER_SCHEDULE)
        self.sample_args = {"sampler": "ddim", "steps": 50, "eta": 1.0, "strength": 1.0, **(sample or {})}
        self.precision, self.channels_last = precision, bool(channels_last)
        self.intensity, self.window, self.split = intensity, window, split
        self.phantom_count, self.num_classes, self.seed = int(phantom_count), num_classes, int(seed)
        dev = str(device)
        self.device = torch.device(dev if (not dev.startswith("cuda") or torch.cuda.is_available()) else "cpu")
        self.handlers, self.ema_decay = list(handlers or []), float(ema_decay)
        self.l1_weight, self.adv_weight = float(pix2pix_l1_weight), float(srgan_adversarial_weight)
        self.checkpoint_every, self.log_every = int(checkpoint_every), int(log_every)
        self.report_images = int(report_images)
        self.rank, self.world = idist.get_rank(), idist.get_world_size()
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ public
    def run(self) -> dict[str, Any]:
        """Train (resuming, or skipping a finished model), then write the report on rank 0; return its metrics."""
        torch.manual_seed(self.seed)
        from monai_synth.io.output_guard import check_output_dir

        check_output_dir(self.out, [self.dataset_dir])  # never inside, or holding, the data; never among other data
        data = load_image_tensors(
            self.dataset_dir, self.image_size, self.channels, self.intensity, self.window, self.split,
            self.phantom_count, self.seed, num_classes=self.num_classes,
        )
        self.record = self.check_run_folder(data)
        self.train(data)
        if self.rank != 0:
            return {}
        from monai_synth.engines.med_cdiff.report import write_report

        s = self.sample_args
        restorer = load_restorer(self.out, self.model, self.device, s["sampler"], int(s["steps"]), float(s["eta"]),
                                 float(s["strength"]))
        restorer.precision = self.precision
        return write_report(self, data, restorer)

    def check_run_folder(self, data: ImageTensorSet) -> dict[str, Any]:
        """Record (first run) or check (rerun) this model's settings and dataset in ``<model>/run_record.json``."""
        from monai_synth.engines.run_record import check_run_record, dataset_fingerprint

        skip = ("handlers", "timings", "record", "rank", "world", "degradation")  # degradation_args stay
        settings = {k: v for k, v in vars(self).items() if k not in skip}
        return check_run_record(self.out / self.model / "run_record.json", settings, dataset_fingerprint(data.files),
                                MED_CDIFF_HARMLESS, write=self.rank == 0)

    def train(self, data: ImageTensorSet) -> Path:
        """Train the model as one resumable phase; return the path of its ``final.pt``."""
        phase_dir = self.out / self.model
        if (phase_dir / "final.pt").exists():
            self._check_finished(phase_dir / "final.pt")
            logger.info("%s: %s exists, not retraining", self.model, phase_dir / "final.pt")
            return phase_dir / "final.pt"
        if self.model == "srgan":
            logger.info("srgan: VGG content loss off (no VGG weights available offline); content loss = pixel MSE")
        torch.manual_seed(self.seed)  # network initialisation
        batches = RestorationBatches(data.images, self.degradation, self.batch_size, self.seed, self.device,
                                     self.channels_last, self.rank, self.world)
        step, to_save, final = self._diffusion(batches) if self.model == "diffusion" else self._gan(batches)
        per_epoch = iterations_per_epoch(len(data), self.batch_size, self.world)
        phase = TrainingPhase(
            self.model, self.out, step, to_save, final, per_epoch, self.epochs, self.checkpoint_every,
            self.log_every, final_extra=lambda: self.checkpoint_settings(data), handlers=self.handlers,
            tracking_params={k: v for k, v in vars(self).items() if k not in ("handlers", "timings") and not k.startswith("_")},
        )
        path = phase.run()
        self.timings[f"{self.model}_seconds"] = round(phase.seconds, 2)
        if phase.seconds > 0:
            self.timings[f"{self.model}_images_per_second"] = phase.images_per_second(self.batch_size * self.world)
        return path

    def checkpoint_settings(self, data: ImageTensorSet) -> dict[str, Any]:
        """Everything ``final.pt`` needs besides the weights to rebuild and use the restorer."""
        return {
            "model": self.model,
            "task": self.task,
            "degradation": dict(self.degradation_args),
            "network_args": self.network_args,
            "schedule_args": self.schedule_args,
            "image_size": self.image_size,
            "channels": self.channels,
            "intensity": dict(data.intensity),
            "class_names": list(data.class_names),
        }

    # ---------------------------------------------------------------- helpers
    def _check_finished(self, path: Path) -> None:
        """A finished model in the output folder must be of this task: refuse to report on another one."""
        from monai_synth.engines.checkpoint import load_state

        task = load_state(path).get("task")
        if task != self.task:
            raise ValueError(f"{path} holds a {self.model} model trained for task {task!r}, not {self.task!r}: "
                             "choose another output_dir for this task")

    def _network(self, net: nn.Module) -> nn.Module:
        net = net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def _diffusion(self, batches: RestorationBatches) -> tuple[Any, dict, dict]:
        from monai_synth.diffusion import make_schedule

        unet = self._network(build_generator("diffusion", self.network_args, self.channels, self.cond_channels))
        ema = WeightEMA(unet, self.ema_decay) if self.ema_decay > 0 else None
        opt = torch.optim.AdamW(unet.parameters(), lr=self.lr, weight_decay=0.0)
        schedule = make_schedule(**self.schedule_args).to(self.device)
        step = ConditionalDiffusionStep(self._distribute(unet), opt, ema, schedule, batches, self.precision)
        to_save: dict[str, Any] = {"network": unet, "optimizer": opt}
        final: dict[str, Any] = {"network": unet}
        if ema is not None:
            to_save["ema"] = ema
            final["network_ema"] = ema.ema
        return step, to_save, final

    def _gan(self, batches: RestorationBatches) -> tuple[Any, dict, dict]:
        gen = self._network(build_generator(self.model, self.network_args, self.channels, self.cond_channels))
        disc = self._network(build_discriminator(self.model, self.network_args, self.channels, self.cond_channels))
        opt_g = torch.optim.Adam(gen.parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(disc.parameters(), lr=self.lr, betas=(0.5, 0.999))
        g_t, d_t = self._distribute(gen), self._distribute(disc)
        if self.model == "pix2pix":
            step: Any = Pix2PixStep(g_t, d_t, opt_g, opt_d, batches, self.l1_weight, self.precision)
        else:
            step = SRGANStep(g_t, d_t, opt_g, opt_d, batches, self.adv_weight, self.precision)
        to_save = {"network": gen, "discriminator": disc, "opt_g": opt_g, "opt_d": opt_d}
        return step, to_save, {"network": gen}

    def _distribute(self, net: nn.Module) -> nn.Module:
        if self.world == 1:
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)
