"""StyleGAN2-ADA training on the shared phase engine: one ``TrainingPhase`` fed by the bundle's data loader.

``StyleGAN2Trainer`` wires the step (``StyleGAN2Step``: G, D, EMA G, both optimisers, ADA) into
``monai_synth.engines.training_run.TrainingPhase``, which does the checkpoints (atomic, the newest kept, the same
command resumes exactly, even in the middle of an epoch), TensorBoard, the loss history, previews, MLflow, rank
handling and the wall-clock budget. This module adds what only StyleGAN2 has: transfer learning from
``resume_from``, the run record, the FID curve with its best checkpoint (``evaluation``), and ``metrics.json``.

Run folder (``output_dir``): ``checkpoints/stylegan2_checkpoint_<iteration>.pt``, ``samples_class<k>.png``
(``samples.png`` unconditional), ``stylegan2_loss_curves.png``, ``tensorboard/``, ``metrics.json``,
``run_record.json``, ``best_fid.pt`` (with evaluation), ``budget.json`` (with ``budget_minutes``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


from monai_synth.augment import AdaptiveAugmentPipeline
from monai_synth.engines.checkpoint import latest_checkpoint
from monai_synth.engines.run_files import now_iso, save_json_atomic
from monai_synth.engines.run_record import add_to_run_record, check_run_record, dataset_fingerprint
from monai_synth.engines.stylegan2.distributed import rank, world_size
from monai_synth.engines.stylegan2.evaluation import StyleGAN2FidelityMonitor, is_enabled
from monai_synth.engines.stylegan2.grids import StyleGAN2Preview
from monai_synth.engines.stylegan2.step import StyleGAN2Step
from monai_synth.engines.training_run import TrainingPhase
from monai_synth.io.output_guard import check_output_dir
from monai_synth.networks.stylegan2_checkpoint import transfer_stylegan2_weights

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "stylegan2_"

#: settings a rerun may change: they do not change the weights already trained (epochs / kimg only lengthen)
STYLEGAN2_HARMLESS = ("checkpoint_every", "log_every", "evaluation", "preview_every", "device", "epochs", "kimg")


def count_classes(datalist: Iterable[Mapping[str, Any]]) -> int:
    """Number of classes in a datalist (max ``label`` + 1), or 0 when entries carry no labels."""
    labels = [int(d["label"]) for d in datalist if d.get("label") is not None]
    return max(labels) + 1 if labels else 0


class _Constant:
    """A fixed dict saved in checkpoints (the generator's constructor arguments)."""

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = dict(value)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.value)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if dict(state) != self.value:
            logger.warning("checkpoint generator_config %s differs from this run's %s", dict(state), self.value)


def dataset_files(data_loader: Any) -> list[str]:
    """The files behind a data loader's datalist (``image``/``mask`` paths; none for in-memory data)."""
    entries = getattr(getattr(data_loader, "dataset", None), "data", None)
    if not isinstance(entries, Sequence):
        return []
    return [str(e[k]) for e in entries if isinstance(e, Mapping) for k in ("image", "mask")
            if isinstance(e.get(k), (str, os.PathLike))]  # fmt: skip


class StyleGAN2Trainer:
    """Train StyleGAN2-ADA on ``TrainingPhase``: resume, transfer learning, previews, evaluation, metrics.json.

    Running the same command again resumes from the latest checkpoint in ``output_dir/checkpoints`` (a finished
    run only rewrites its sample grids and ``metrics.json``; a larger ``epochs``/``kimg`` trains further).
    Otherwise, if ``resume_from`` names a checkpoint (file or folder), every layer whose name and shape match is
    loaded into G, G_ema and D (transfer learning). ``run_record.json`` refuses a rerun into the same folder with
    other data or settings.

    Args:
        step: the iteration (networks, optimisers, augmentation).
        data_loader: batches of dicts with ``image`` (B, C, H, W) in [-1, 1] and, if conditional, ``label``.
        output_dir: the run folder (see the module docstring).
        epochs: passes over the data (used when ``kimg`` is 0 and there is no budget).
        kimg: train on this many thousand real images instead of ``epochs``.
        resume_from: checkpoint to transfer matching layers from when starting fresh ("" or None: none).
        checkpoint_every: iterations between checkpoints (the last iteration is always saved; the newest is kept).
        log_every: iterations per loss-history window, log line and TensorBoard point.
        grid_rows / grid_columns / grid_seed: the sample grids (EMA generator, fixed latents).
        evaluation: FID / KID / precision / recall settings (``interval`` epochs or ``interval_kimg``,
            ``num_samples``, ...; see ``monai_synth.engines.stylegan2.evaluation``); None or interval 0: off.
        handlers: more handlers with ``attach(engine)``, e.g. MONAI's ``MLFlowHandler`` that ``--tracking mlflow``
            adds to ``train#handlers``; they get the settings as parameters and the grids as artifacts.
        preview_every: epochs between refreshes of the grids and loss curves while training (0: at the end only).
        budget_minutes: train for this wall-clock time instead of ``epochs``/``kimg`` (None: no budget); see
            ``monai_synth.engines.training_budget``.
        calibration_iterations: iterations timed to plan the budget.
        settings: more settings of the run for ``run_record.json`` and tracking (seed, data and intensity
            settings...), JSON values.

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
        log_every: int = 20,
        grid_rows: int = 4,
        grid_columns: int = 8,
        grid_seed: int = 0,
        evaluation: Mapping[str, Any] | None = None,
        handlers: Sequence[Any] | None = None,
        preview_every: int = 0,
        budget_minutes: float | None = None,
        calibration_iterations: int = 17,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.step = step
        self.data_loader = data_loader
        self.output_dir = Path(output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.epochs, self.kimg = int(epochs), float(kimg or 0.0)
        self.resume_from = resume_from or None
        self.checkpoint_every, self.log_every = max(1, int(checkpoint_every)), max(1, int(log_every))
        self.preview = StyleGAN2Preview(self.output_dir, step.generator_ema, grid_rows, grid_columns, grid_seed)
        self.evaluation = dict(evaluation or {})
        self.handlers = list(handlers or [])
        self.preview_every = int(preview_every)
        self.budget_minutes = float(budget_minutes) if budget_minutes else None
        self.calibration_iterations = int(calibration_iterations)
        self.extra_settings = dict(settings or {})
        self.fidelity: StyleGAN2FidelityMonitor | None = None
        self.phase: TrainingPhase | None = None
        self.record: dict[str, Any] | None = None

    @property
    def state(self) -> Any:
        """The engine state of the last ``run`` (iteration, epoch, output, metrics)."""
        return self.phase.state if self.phase is not None else None

    def global_batch_size(self) -> int:
        """Real images per iteration over all processes."""
        return (getattr(self.data_loader, "batch_size", None) or 1) * world_size()

    def total_iterations(self) -> int | None:
        """Iterations of the whole run: ``kimg`` thousand images, else ``epochs`` x batches per epoch."""
        if self.kimg > 0:
            # rounded first, so that kimg = iterations x batch / 1000 gives exactly that many iterations
            return max(1, math.ceil(round(self.kimg * 1000.0 / self.global_batch_size(), 6)))
        return None

    def settings(self) -> dict[str, Any]:
        """What made this run, for ``run_record.json`` and as tracking parameters."""
        return {"epochs": self.epochs, "kimg": self.kimg, "budget_minutes": self.budget_minutes,
                "resume_from": str(self.resume_from) if self.resume_from else None,
                "batch_size": self.global_batch_size(), "world_size": world_size(),
                "checkpoint_every": self.checkpoint_every, "log_every": self.log_every, "evaluation": self.evaluation,
                "preview_every": self.preview_every, "device": str(self.step.device),
                **dict(self.step.generator.init_kwargs), **self.step.settings,
                **self.extra_settings}  # fmt: skip

    def run(self) -> Any:
        """Check the run folder, transfer weights if asked, train (or resume, or finish), write grids and metrics."""
        if rank() == 0:
            check_output_dir(self.output_dir, [self.resume_from])  # never among other data
        self.record = check_run_record(self.output_dir / "run_record.json", self.settings(),
                                       dataset_fingerprint(dataset_files(self.data_loader)), STYLEGAN2_HARMLESS,
                                       write=rank() == 0)  # fmt: skip
        self.transfer()
        self.phase = self._phase()
        if is_enabled(self.evaluation) and rank() == 0:
            self.fidelity = StyleGAN2FidelityMonitor(self.evaluation, self.output_dir, self)
            self.phase.handlers.insert(0, self.fidelity)
        total = self.phase.total_iterations()
        length = f"{total} iterations" if total is not None else f"{self.budget_minutes:g} minutes (budget)"
        logger.info("training %s into %s", length, self.output_dir)
        self.phase.run()
        if rank() == 0:
            if not self.phase.iterations_run:  # a finished run: refresh its grids from the last checkpoint
                self.preview(self.phase.history.state_dict(), self.state.iteration, None)
            self.write_metrics(self.state.iteration)
            if self.phase.budget is not None:
                add_to_run_record(self.output_dir / "run_record.json", "budget", self.phase.budget_record())
        return self.state

    def transfer(self) -> Path | None:
        """Load the matching layers of ``resume_from`` when this run has no checkpoint of its own; return it."""
        if latest_checkpoint(self.checkpoint_dir) is not None or self.resume_from is None:
            return None
        networks = {"generator": self.step.generator, "generator_ema": self.step.generator_ema,
                    "discriminator": self.step.discriminator}  # fmt: skip
        transfer_stylegan2_weights(self.resume_from, networks)
        return Path(self.resume_from)

    def _phase(self) -> TrainingPhase:
        to_save = {**self.step.objects_to_checkpoint(),
                   "generator_config": _Constant(self.step.generator.init_kwargs)}  # fmt: skip
        return TrainingPhase(
            "stylegan2", self.output_dir, self.step, to_save, None, len(self.data_loader), max(1, self.epochs),  # type: ignore[arg-type]
            checkpoint_every=self.checkpoint_every, log_every=self.log_every, handlers=self.handlers,
            preview=self.preview, preview_every=self.preview_every, tracking_params=self.settings(),
            data=self.data_loader, phase_dir=self.output_dir, checkpoint_dir=self.checkpoint_dir,
            checkpoint_prefix=CHECKPOINT_PREFIX, max_iterations=None if self.budget_minutes else self.total_iterations(),
            preview_at_end=True, budget_minutes=self.budget_minutes, calibration_iterations=self.calibration_iterations,
        )  # fmt: skip

    def write_metrics(self, iteration: int) -> Path | None:
        """Write ``metrics.json`` (length, measured seconds, ADA p, budget, the fidelity curve and best FID); rank 0."""
        if rank() != 0 or self.phase is None:
            return None
        step, g = self.step, self.step.generator
        seconds = self.phase.timing.train_seconds
        metrics: dict[str, Any] = {
            "written_at": now_iso(),
            "model": "stylegan2_ada",
            "iterations": int(iteration),
            "kimg": step.num_images / 1000.0,
            "batch_size": self.global_batch_size(),
            "world_size": world_size(),
            "train_seconds": round(seconds, 2),
            "wall_seconds": round(self.phase.timing.wall_seconds, 2),
            "images_per_second": round(step.num_images / seconds, 2) if seconds > 0 else 0.0,
            "ada_p": float(step.augment.p) if isinstance(step.augment, AdaptiveAugmentPipeline) else 0.0,
            "image_size": g.image_size,
            "channels": g.image_channels,
            "num_classes": g.num_classes,
            "device": str(step.device),
        }
        budget = self.phase.budget_record()
        if budget is not None:
            metrics["budget"] = budget
        if self.fidelity is not None:
            metrics.update(self.fidelity.summary())
        path = self.output_dir / "metrics.json"
        self.output_dir.mkdir(parents=True, exist_ok=True)
        save_json_atomic(metrics, path)
        return path
