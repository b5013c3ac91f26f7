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

import json
import logging
from pathlib import Path
from typing import Any, Callable

import ignite.distributed as idist
import torch
from torch import nn

from monai_synth.engines.checkpoint import load_state
from monai_synth.engines.components import complete, definition, flatten
from monai_synth.engines.image_tensors import ImageTensorSet, load_image_tensors
from monai_synth.engines.med_cdiff.report import write_report
from monai_synth.io.output_guard import check_output_dir
from monai_synth.engines.med_cdiff.restorer import (
    InterpolationRestorer,
    Restorer,
    check_model_task,
    load_restorer,
)
from monai_synth.engines.med_cdiff.preview import RestoreFn, diffusion_restore, network_restore, restoration_preview
from monai_synth.engines.med_cdiff.steps import RestorationBatches
from monai_synth.engines.run_record import add_to_run_record, check_run_record, dataset_fingerprint
from monai_synth.engines.training_run import TrainingPhase
from monai_synth.handlers.ema import WeightEMA
from monai_synth.transforms.degradation import make_degradation

__all__ = ["MedCDiffWorkflow", "Restorer", "InterpolationRestorer", "load_restorer"]

logger = logging.getLogger("monai_synth")

#: settings a finished or resumed run may change: they do not change the weights
MED_CDIFF_HARMLESS = ("out", "checkpoint_every", "log_every", "device", "sample_args", "report_images", "preview_every")

#: the parts each model takes from the config's ``models#<model>`` entry
MODEL_PARTS = {"diffusion": ("unet_def", "optimizer", "step"),
               "pix2pix": ("generator_def", "discriminator_def", "optimizer", "step"),
               "srgan": ("generator_def", "discriminator_def", "optimizer", "step")}  # fmt: skip


class MedCDiffWorkflow:
    """Train one Med-cDiff restorer on one dataset and task; write its checkpoint, a restoration grid and metrics.

    ``bundles/med_cdiff/train.json`` wires every part and holds every default: each model's networks, optimiser
    and step are factories (``"_mode_": "callable"``) under ``models#<model>``; the workflow completes them and
    stores the network's definition with its weights (:mod:`monai_synth.engines.components`).

    Args:
        output_dir: run folder; the model trains in ``output_dir/<model>/`` and the report is
            ``output_dir/<model>_grid.png`` (rows: clean / degraded / restored per setting) and
            ``output_dir/<model>_metrics.json``.
        dataset_dir: any source the data layer reads; empty = the embedded phantom data.
        task: "sr", "denoise" or "inpaint"; degradation: its settings (:func:`monai_synth.transforms.make_degradation`).
        model: "diffusion" (Med-cDiff), "pix2pix" or "srgan" (task "sr" only).
        models: each model's factories (the config's ``models``): ``unet_def`` (diffusion) or ``generator_def`` +
            ``discriminator_def`` (GANs), ``optimizer`` (called with the parameters) and ``step`` (completed with
            networks and batches). Only ``model``'s are used.
        noise_schedule: factory of the diffusion model's noise schedule.
        image_size / channels: square training size and image channels.
        epochs / batch_size: training length and per-rank batch.
        sample: report sampling settings of the diffusion model (``sampler``, ``steps``, ``eta``, ``strength``).
        precision: "fp32" | "bf16" (autocast) | "fp16" (CUDA only); channels_last: NHWC activations.
        intensity / window / split / phantom_count / num_classes: data layer settings.
        seed: everything random derives from it; device: "cpu", "cuda", "cuda:1"...
        ema_decay: EMA decay of the diffusion UNet (0: sample with the raw weights).
        checkpoint_every / log_every: iterations between checkpoints / loss log lines.
        report_images: images per setting in the report.
        handlers: extra Ignite handlers attached to the engine (e.g. MLflow tracking).
    """

    def __init__(
        self,
        output_dir: str,
        dataset_dir: str | None,
        task: str,
        degradation: dict,
        model: str,
        models: dict[str, dict[str, Callable[..., Any]]],
        noise_schedule: Callable[..., Any],
        image_size: int,
        channels: int,
        epochs: int,
        budget_minutes: float | None,
        batch_size: int,
        sample: dict,
        preview_every: int,
        preview_steps: int,
        precision: str,
        channels_last: bool,
        intensity: str,
        window: str | None,
        split: str,
        phantom_count: int,
        num_classes: int | None,
        seed: int,
        skip_bad: bool,
        nonfinite: str,
        device: str | torch.device,
        ema_decay: float,
        checkpoint_every: int,
        log_every: int,
        report_images: int,
        handlers: list | None = None,
    ) -> None:
        check_model_task(model, task)
        parts = models.get(model, {})
        missing = [k for k in MODEL_PARTS[model] if k not in parts]
        if missing:
            raise ValueError(f"models#{model} of the config lacks {missing}")
        self.out, self.dataset_dir = Path(output_dir), dataset_dir or None
        self.task, self.model = task, model
        self.degradation_args = dict(degradation)
        self.degradation = make_degradation(task, self.degradation_args)
        self.factories = {k: parts[k] for k in MODEL_PARTS[model]}
        self.factories["noise_schedule"] = noise_schedule
        self.image_size, self.channels = int(image_size), int(channels)
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.budget_minutes = float(budget_minutes) if budget_minutes is not None else None
        self.sample_args = dict(sample)
        self.preview_every, self.preview_steps = int(preview_every), int(preview_steps)
        self.skip_bad, self.nonfinite = bool(skip_bad), nonfinite
        self.precision, self.channels_last = precision, bool(channels_last)
        self.intensity, self.window, self.split = intensity, window, split
        self.phantom_count, self.num_classes, self.seed = int(phantom_count), num_classes, int(seed)
        dev = str(device)
        self.device = torch.device(dev if (not dev.startswith("cuda") or torch.cuda.is_available()) else "cpu")
        self.handlers, self.ema_decay = list(handlers or []), float(ema_decay)
        self.checkpoint_every, self.log_every = int(checkpoint_every), int(log_every)
        self.report_images = int(report_images)
        self.rank, self.world = idist.get_rank(), idist.get_world_size()
        self.timings: dict[str, float] = {}
        self.definitions: dict[str, Any] = {}

    # ------------------------------------------------------------------ public
    def run(self) -> dict[str, Any]:
        """Train (resuming, or skipping a finished model), then write the report on rank 0; return its metrics."""
        torch.manual_seed(self.seed)

        check_output_dir(self.out, [self.dataset_dir])  # never inside, or holding, the data; never among other data
        data = load_image_tensors(
            self.dataset_dir, self.image_size, self.channels, self.intensity, self.window, self.split,
            self.phantom_count, self.seed, num_classes=self.num_classes, skip_bad=self.skip_bad,
            nonfinite=self.nonfinite, size_hint=self.image_size, report_path=self.out / "skipped_inputs.csv",
        )
        self.record = self.check_run_folder(data)
        self.train(data)
        if self.rank != 0:
            return {}

        s = self.sample_args
        restorer = load_restorer(self.out, self.model, self.device, s["sampler"], int(s["steps"]), float(s["eta"]),
                                 float(s["strength"]))
        restorer.precision = self.precision
        return write_report(self, data, restorer)

    def check_run_folder(self, data: ImageTensorSet) -> dict[str, Any]:
        """Record (first run) or check (rerun) this model's settings and dataset in ``<model>/run_record.json``."""
        return check_run_record(self.out / self.model / "run_record.json", self.settings(),
                                dataset_fingerprint(data.files), MED_CDIFF_HARMLESS, write=self.rank == 0)

    def settings(self) -> dict[str, Any]:
        """What makes this run: plain settings plus the definitions of its parts (JSON-able)."""
        skip = ("handlers", "timings", "record", "rank", "world", "degradation", "factories", "definitions")
        plain = {k: v for k, v in vars(self).items() if k not in skip and not k.startswith("_")}
        return {**plain, **flatten({k: definition(f) for k, f in self.factories.items()})}

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
                                     self.rank, self.world)  # fmt: skip
        step, to_save, final, restore = self._diffusion(data) if self.model == "diffusion" else self._gan()
        per_epoch = len(batches)
        preview = restoration_preview(phase_dir, self.model, restore, data.images, self.degradation, seed=self.seed)
        phase = TrainingPhase(
            self.model, self.out, step, to_save, final, per_epoch, self.epochs, self.checkpoint_every,
            self.log_every, final_extra=lambda: self.checkpoint_settings(data), handlers=self.handlers,
            tracking_params={k: v for k, v in self.settings().items() if k != "out"}, preview=preview,
            preview_every=self.preview_every, budget_minutes=self.budget_minutes, batches=batches,
        )
        path = phase.run()
        if phase.budget is not None and self.rank == 0:
            add_to_run_record(self.out / self.model / "run_record.json", "budget", phase.budget_record())
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
            **self.definitions,
            "image_size": self.image_size,
            "channels": self.channels,
            "intensity": dict(data.intensity),
            "class_names": list(data.class_names),
        }

    def budget_summary(self) -> dict[str, Any] | None:
        """Planned and spent time when the model was trained on a budget (from its run record), else None."""
        path = self.out / self.model / "run_record.json"
        return json.loads(path.read_text()).get("budget") if path.is_file() else None

    # ---------------------------------------------------------------- helpers
    def _check_finished(self, path: Path) -> None:
        """A finished model in the output folder must be of this task: refuse to report on another one."""
        task = load_state(path).get("task")
        if task != self.task:
            raise ValueError(f"{path} holds a {self.model} model trained for task {task!r}, not {self.task!r}: "
                             "choose another output_dir for this task")

    def _network(self, factory: Callable[..., nn.Module], name: str | None = None) -> nn.Module:
        """Build a network from its factory on the device; keep the definition of the restoring one (``name``)."""
        net, config = complete(factory)
        if name:
            self.definitions[name] = config
        net = net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def _diffusion(self, data: ImageTensorSet) -> tuple[Any, dict, dict, RestoreFn]:
        unet = self._network(self.factories["unet_def"], "network_def")
        ema = WeightEMA(unet, self.ema_decay) if self.ema_decay > 0 else None
        opt = self.factories["optimizer"](unet.parameters())
        schedule, self.definitions["noise_schedule_def"] = complete(self.factories["noise_schedule"])
        step = self.factories["step"](unet=self._distribute(unet), optimizer=opt, ema=ema,
                                      schedule=schedule.to(self.device), precision=self.precision,
                                      channels_last=self.channels_last)  # fmt: skip
        self.definitions["prediction"] = step.loss.prediction  # what the UNet learns: the samplers must know it
        to_save: dict[str, Any] = {"network": unet, "optimizer": opt}
        final: dict[str, Any] = {"network": unet}
        if ema is not None:
            to_save["ema"] = ema
            final["network_ema"] = ema.ema
        s = self.sample_args
        restore = diffusion_restore(ema.ema if ema is not None else unet, self.checkpoint_settings(data),
                                    schedule.to(self.device), s["sampler"], self.preview_steps, self.device,
                                    self.precision, float(s["eta"]), float(s["strength"]))  # fmt: skip
        return step, to_save, final, restore

    def _gan(self) -> tuple[Any, dict, dict, RestoreFn]:
        gen = self._network(self.factories["generator_def"], "network_def")
        disc = self._network(self.factories["discriminator_def"])
        opt_g, opt_d = self.factories["optimizer"](gen.parameters()), self.factories["optimizer"](disc.parameters())
        step = self.factories["step"](generator=self._distribute(gen), discriminator=self._distribute(disc),
                                      opt_g=opt_g, opt_d=opt_d, precision=self.precision,
                                      channels_last=self.channels_last)  # fmt: skip
        to_save = {"network": gen, "discriminator": disc, "opt_g": opt_g, "opt_d": opt_d}
        return step, to_save, {"network": gen}, network_restore(gen, self.device, self.precision)

    def _distribute(self, net: nn.Module) -> nn.Module:
        if self.world == 1:
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(net, device_ids=ids)
