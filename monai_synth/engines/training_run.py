"""One resumable training phase: an Ignite engine, periodic checkpoints, TensorBoard, a loss history.

The step function reads its batch from the iteration number (see ``indexing``), so the engine's data is just
``range(epoch_length)`` and resuming is exact. A phase whose final weights file exists is not run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from monai_synth.engines.tracking import prepare_tracking_handler
from monai_synth.handlers.epoch_means import EpochMeans
from monai_synth.engines.checkpoint import atomic_torch_save, latest_checkpoint, load_state, remove_stale_checkpoints
from monai_synth.engines.finite_check import check_finite
from monai_synth.engines.progress import PhasePreview, ProgressClock

logger = logging.getLogger("monai_synth")


class LossHistory:
    """Mean of each logged value over windows of ``every`` iterations; saved in checkpoints."""

    def __init__(self, every: int = 10) -> None:
        self.every = every
        self.iterations: list[int] = []
        self.values: dict[str, list[float]] = {}
        self._acc: dict[str, list[float]] = {}

    def add(self, iteration: int, output: dict[str, float]) -> dict[str, float] | None:
        """Accumulate one step's values; return the window means when a window closes."""
        for k, v in output.items():
            self._acc.setdefault(k, []).append(float(v))
        if iteration % self.every:
            return None
        means = {k: sum(v) / len(v) for k, v in self._acc.items()}
        self._acc = {}
        self.iterations.append(iteration)
        for k, v in means.items():
            self.values.setdefault(k, []).append(v)
        return means

    def state_dict(self) -> dict:
        return {"every": self.every, "iterations": self.iterations, "values": self.values, "pending": self._acc}

    def load_state_dict(self, state: dict) -> None:
        self.every, self.iterations, self.values = state["every"], list(state["iterations"]), dict(state["values"])
        self._acc = dict(state.get("pending", {}))


class TrainingPhase:
    """Run ``step_fn`` for ``max_epochs`` x ``epoch_length`` iterations with checkpoint/resume.

    Args:
        name: phase name, used for folders and log tags.
        output_dir: the phase writes ``output_dir/name/`` (checkpoints, ``final.pt``, TensorBoard events).
        step_fn: ``step_fn(engine) -> dict[str, float]`` doing one optimisation step for
            ``engine.state.iteration`` (1-based).
        to_save: objects with ``state_dict``/``load_state_dict`` to checkpoint (networks, optimisers, EMA...).
        final: objects whose state dicts make up ``final.pt`` (e.g. the EMA network).
        epoch_length: iterations per epoch.
        max_epochs: epochs to run.
        checkpoint_every: iterations between checkpoints (the last one is always written).
        log_every: iterations per loss-history window and log line.
        final_extra: returns more entries for ``final.pt`` (settings needed to rebuild the networks).
        handlers: extra Ignite/MONAI handlers with ``attach(engine)`` (e.g. ``MLFlowHandler`` added by
            ``--tracking mlflow``); the step's output dict is ``engine.state.output``.
        preview: refreshes loss curves (and sample grids) on disk and in TensorBoard; None: curves only.
        preview_every: epochs between previews (0: off).
        tracking_params: the run's settings, given to tracking handlers (``--tracking mlflow``) as parameters.
        last_phase: False for a phase that another phase of the same run follows (the tracking run stays open).

    Training stops with ``NonFiniteTrainingError`` at the first non-finite logged value (loss, gradient norm)
    or weight, before that iteration is checkpointed, so the last good checkpoint stays the latest one.
    """

    def __init__(
        self,
        name: str,
        output_dir: str | Path,
        step_fn: Callable[[Engine], dict[str, float]],
        to_save: dict[str, Any],
        final: dict[str, Any],
        epoch_length: int,
        max_epochs: int,
        checkpoint_every: int = 200,
        log_every: int = 10,
        final_extra: Callable[[], dict] | None = None,
        handlers: list | None = None,
        preview: PhasePreview | None = None,
        preview_every: int = 0,
        tracking_params: dict | None = None,
        last_phase: bool = True,
    ) -> None:
        self.name = name
        self.handlers = list(handlers or [])
        self.dir = Path(output_dir) / name
        self.step_fn = step_fn
        self.history = LossHistory(log_every)
        self.to_save = {**to_save, "history": self.history}
        self.final = final
        self.final_extra = final_extra
        self.epoch_length = epoch_length
        self.max_epochs = max_epochs
        self.checkpoint_every = checkpoint_every
        self.seconds = 0.0
        self.iterations_run = 0
        self.clock = ProgressClock(epoch_length * max_epochs)
        self.preview = preview or PhasePreview(self.dir, name)
        self.preview_every = int(preview_every)
        self.tracking_params = dict(tracking_params or {})
        self.last_phase = last_phase
        self._logged_metrics: dict[str, float] = {}

    @property
    def final_path(self) -> Path:
        return self.dir / "final.pt"

    def is_done(self) -> bool:
        return self.final_path.exists()

    def run(self) -> Path:
        """Train (or resume, or skip when ``final.pt`` exists) and return the path of ``final.pt``."""
        if self.is_done():
            logger.info("%s: %s exists, not retraining", self.name, self.final_path)
            return self.final_path
        engine = Engine(lambda e, _: self.step_fn(e))
        self.to_save["engine"] = engine
        ckpt = self._save_checkpoint
        writer = self._tensorboard()
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._check_finite)  # before anything is saved
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._record, writer)  # before the checkpoint
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.checkpoint_every) | Events.COMPLETED, ckpt)
        EpochMeans(self.name).attach(engine)  # before the handlers that read state.metrics
        if self.handlers and idist.get_rank() == 0:  # the files tracking handlers log as artifacts at the end
            engine.add_event_handler(Events.COMPLETED, self._preview, writer)
        for handler in self.handlers:
            prepare_tracking_handler(handler, self.tracking_params, self.preview.files(), keep_open=not self.last_phase)
            handler.attach(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._record_metrics, writer)
        if self.preview_every > 0 and idist.get_rank() == 0:
            engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.preview_every), self._preview, writer)
        self._resume(engine)
        self.clock.begin(engine.state.iteration)
        start = time.perf_counter()
        engine.run(range(self.epoch_length), max_epochs=self.max_epochs)
        self.seconds = time.perf_counter() - start
        self.iterations_run = self.clock.iterations_run(engine.state.iteration)
        if writer is not None:
            writer.close()
        payload = {k: v.state_dict() for k, v in self.final.items()}
        payload["history"] = self.history.state_dict()
        payload["seconds_last_run"] = self.seconds
        payload["metrics"] = {k: float(v) for k, v in engine.state.metrics.items() if isinstance(v, (int, float))}
        if self.final_extra is not None:
            payload.update(self.final_extra())
        if idist.get_rank() == 0:
            atomic_torch_save(payload, self.final_path)
            removed = remove_stale_checkpoints(self.dir)
            if removed:
                logger.info("%s: removed stale checkpoints %s", self.name, ", ".join(p.name for p in removed))
        idist.barrier() if idist.get_world_size() > 1 else None
        return self.final_path

    def images_per_second(self, global_batch: int) -> float:
        """Training images per second of this process's iterations (a resume counts only its own)."""
        return round(self.iterations_run * global_batch / self.seconds, 2) if self.seconds > 0 else 0.0

    def _save_checkpoint(self, engine: Engine) -> None:
        """Write ``checkpoint_<iteration>.pt``, then delete the older ones.

        In this order a kill at any instant leaves at least one complete checkpoint (Ignite's ``Checkpoint``
        deletes the previous file before writing the next, so a kill during the write left none and the
        phase restarted from scratch). A resumed run also removes the file it resumed from.
        """
        path = self.dir / f"checkpoint_{engine.state.iteration}.pt"
        if idist.get_rank() != 0 or path.exists():  # the last iteration fires both "every" and COMPLETED
            return
        payload = {k: v.state_dict() for k, v in self.to_save.items()}
        atomic_torch_save(payload, path)
        remove_stale_checkpoints(self.dir)

    def _resume(self, engine: Engine) -> None:
        last = latest_checkpoint(self.dir)
        if last is None:
            return
        Checkpoint.load_objects(self.to_save, load_state(last))
        logger.info("%s: resumed from %s at iteration %d", self.name, last.name, engine.state.iteration)

    def _check_finite(self, engine: Engine) -> None:
        networks = {k: v for k, v in self.final.items() if isinstance(v, torch.nn.Module)}
        check_finite(self.name, engine.state.iteration, engine.state.output or {}, networks,
                     lambda: latest_checkpoint(self.dir))

    def _preview(self, engine: Engine, writer) -> None:
        paths = self.preview(self.history.state_dict(), engine.state.iteration, writer)
        logger.info("%s epoch %d: previews %s", self.name, engine.state.epoch, ", ".join(p.name for p in paths))

    def _tensorboard(self):
        if idist.get_rank() != 0:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(self.dir / "tensorboard"))

    def _record_metrics(self, engine: Engine, writer) -> None:
        """Log what handlers put in ``engine.state.metrics`` (e.g. FID) at the end of an epoch."""
        values = {k: v for k, v in engine.state.metrics.items() if isinstance(v, (int, float))}
        if not values or values == self._logged_metrics:
            return
        self._logged_metrics = dict(values)
        logger.info("%s epoch %d  %s", self.name, engine.state.epoch, "  ".join(f"{k}={v:.4g}" for k, v in values.items()))
        if writer is not None:
            for k, v in values.items():
                writer.add_scalar(f"{self.name}/{k}", v, engine.state.iteration)

    def _record(self, engine: Engine, writer) -> None:
        it = engine.state.iteration
        means = self.history.add(it, engine.state.output)
        if means is None:
            return
        total = self.max_epochs * self.epoch_length
        logger.info("%s it %d/%d  %s  (%.2f it/s, eta %s)", self.name, it, total,
                    "  ".join(f"{k}={v:.4g}" for k, v in means.items()), self.clock.rate(it), self.clock.eta(it))
        if writer is not None:
            for k, v in means.items():
                writer.add_scalar(f"{self.name}/{k}", v, it)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the network itself)."""
    return getattr(model, "module", model)
