"""One resumable training phase: an Ignite engine, periodic checkpoints, TensorBoard, a loss history.

The step contract is ``step(engine, batch) -> dict`` for every model. The batch comes from one of two batch
sources: a seeded source (``batches``, e.g. :class:`~monai_synth.engines.batch_source.SeededBatches`: batch ``k`` is
a function of ``(seed, k, rank)``) or a shuffling data loader (``data``, its order replayed exactly on resume).
Either way resuming is exact. A phase whose final weights file exists (or whose last checkpoint reached the
planned length) is not run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from monai_synth.engines.tracking import prepare_tracking_handler
from monai_synth.handlers.epoch_means import EpochMeans
from monai_synth.engines.checkpoint import atomic_torch_save, latest_checkpoint, load_state, remove_stale_checkpoints
from monai_synth.engines.epoch_replay import EpochReplayLoader
from monai_synth.engines.finite_check import check_finite
from monai_synth.engines.progress import PhasePreview, ProgressClock
from monai_synth.engines.random_state import GlobalRandomState
from monai_synth.engines.training_budget import PhaseTiming, TrainingBudget

logger = logging.getLogger("monai_synth")

#: epochs a budgeted phase is started with, until its calibration plans the real number
_UNPLANNED_EPOCHS = 10**9


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
        step_fn: the step contract, ``step_fn(engine, batch) -> dict[str, float]``: one optimisation step on
            ``batch`` at ``engine.state.iteration`` (1-based), returning the values to log.
        to_save: objects with ``state_dict``/``load_state_dict`` to checkpoint (networks, optimisers, EMA...).
        final: objects whose state dicts make up ``final.pt`` (e.g. the EMA network); None: no ``final.pt``, the
            last checkpoint is the result and a rerun with a longer run (``max_epochs``/``max_iterations``)
            trains further from it.
        epoch_length: iterations per epoch (None takes ``len(data)`` or ``len(batches)``).
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
        data: the batch source, a data loader whose order comes from the torch RNG (shuffling); None: the batch
            is a function of the iteration and the engine runs over ``range(epoch_length)``. With a data loader
            the checkpoints also hold the global RNG states and the epoch's shuffle, so a resume in the middle
            of an epoch replays its remaining batches (``EpochReplayLoader``); a ``DistributedSampler`` gets
            ``set_epoch`` at every epoch.
        batches: the seeded batch source, ``batches(iteration) -> batch`` for the 0-based iteration (e.g.
            :class:`~monai_synth.engines.batch_source.SeededBatches`); None with no ``data`` either: the batch is
            the 0-based iteration number itself.
        phase_dir: the phase folder (TensorBoard, previews, ``final.pt``, ``budget.json``); None: ``output_dir/name``.
        checkpoint_dir: where checkpoints go; None: ``phase_dir``.
        checkpoint_prefix: checkpoint files are ``<prefix>checkpoint_<iteration>.pt`` (e.g. ``"stylegan2_"``).
        max_iterations: run this many iterations instead of ``max_epochs`` epochs (None: epochs).
        preview_at_end: also refresh the previews when the phase completes.
        budget_minutes: train for this wall-clock time instead of ``max_epochs``/``max_iterations``: the first
            ``calibration_iterations`` (after one warm-up iteration) are timed, the whole epochs that fit are
            planned, planned again at the end of every whole epoch from the epochs' wall time, and written to
            ``budget.json`` (a resume reads the plan back); the phase stops once its wall-clock time exceeds
            ``budget_stop_factor`` x the budget. None: train for the epochs. See
            :class:`~monai_synth.engines.training_budget.TrainingBudget`.
        calibration_iterations: iterations timed to plan a budget.
        budget_stop_factor: multiple of the budget at which the clock stops the phase (a safety net).
        budget_steady_from: the first iteration (1-based) from which the step costs what it will for the rest
            of the phase (e.g. where a loss term starts); the budget's re-plans time the epochs from there on.

    Training stops with ``NonFiniteTrainingError`` at the first non-finite logged value (loss, gradient norm)
    or weight, before that iteration is checkpointed, so the last good checkpoint stays the latest one.
    """

    def __init__(
        self,
        name: str,
        output_dir: str | Path,
        step_fn: Callable[..., dict[str, float]],
        to_save: dict[str, Any],
        final: dict[str, Any] | None,
        epoch_length: int | None,
        max_epochs: int,
        checkpoint_every: int = 200,
        log_every: int = 10,
        final_extra: Callable[[], dict] | None = None,
        handlers: list | None = None,
        preview: PhasePreview | None = None,
        preview_every: int = 0,
        tracking_params: dict | None = None,
        last_phase: bool = True,
        data: Iterable | None = None,
        phase_dir: str | Path | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_prefix: str = "",
        max_iterations: int | None = None,
        preview_at_end: bool = False,
        budget_minutes: float | None = None,
        calibration_iterations: int = 10,
        budget_stop_factor: float = 1.25,
        batches: Callable[[int], Any] | None = None,
        budget_steady_from: int = 1,
    ) -> None:
        self.name = name
        self.handlers = list(handlers or [])
        self.dir = Path(phase_dir) if phase_dir is not None else Path(output_dir) / name
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else self.dir
        self.checkpoint_prefix = checkpoint_prefix
        self.step_fn = step_fn
        if data is not None and batches is not None:
            raise ValueError(f"{name}: give one batch source, a data loader (data) or a seeded source (batches)")
        self.data = EpochReplayLoader(data) if data is not None else None
        self.batches = batches
        if epoch_length is None:
            source = data if data is not None else batches
            if source is None:
                raise ValueError(f"{name}: epoch_length is needed when no batch source is given")
            epoch_length = len(source)  # type: ignore[arg-type]
        if int(epoch_length) < 1:
            raise ValueError(f"{name}: an epoch has no iteration (fewer images than one batch, with drop_last?)")
        self.history = LossHistory(log_every)
        self.timing = PhaseTiming()
        self.to_save = {**to_save, "history": self.history, "timing": self.timing}
        if self.data is not None:
            self.to_save.update(rng=GlobalRandomState(), data_order=self.data)
        self.final = final
        self.final_extra = final_extra
        self.epoch_length = int(epoch_length)
        self.max_epochs = int(max_epochs)
        self.max_iterations = int(max_iterations) if max_iterations else None
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.seconds = 0.0
        self.iterations_run = 0
        self.budget = (TrainingBudget(budget_minutes, self.dir, self.epoch_length, calibration_iterations,
                                      budget_stop_factor, budget_steady_from) if budget_minutes else None)  # fmt: skip
        self.clock = ProgressClock(self.total_iterations() or 0)
        self.preview = preview or PhasePreview(self.dir, name)
        self.preview_every = int(preview_every)
        self.preview_at_end = bool(preview_at_end)
        self.tracking_params = dict(tracking_params or {})
        self.last_phase = last_phase
        self.state = None  # the engine's state once ``run`` has run (or found the phase finished)
        self.writer = None  # TensorBoard writer of rank 0 while the phase runs
        self.stopped_on_clock = False
        self._logged_metrics: dict[str, float] = {}

    @property
    def final_path(self) -> Path:
        if self.final is None:
            return latest_checkpoint(self.checkpoint_dir) or self.checkpoint_dir / f"{self.checkpoint_prefix}checkpoint_0.pt"
        return self.dir / "final.pt"

    def is_done(self) -> bool:
        return self.final is not None and self.final_path.exists()

    def total_iterations(self) -> int | None:
        """Iterations of the whole phase (None while a budget is not planned yet)."""
        if self.budget is not None:
            return self.budget.last_iteration
        return self.max_iterations or self.max_epochs * self.epoch_length

    def run(self) -> Path:
        """Train (or resume, or skip when finished) and return the path of ``final.pt`` (or the last checkpoint)."""
        if self.is_done():
            logger.info("%s: %s exists, not retraining", self.name, self.final_path)
            return self.final_path
        engine = Engine(self._process)
        self.to_save["engine"] = engine
        self._resume(engine)
        total = self.total_iterations()
        if total is not None and engine.state.iteration >= total:  # a finished phase without final.pt
            logger.info("%s: finished at iteration %d, not retraining", self.name, engine.state.iteration)
            self.state = engine.state
            return self.final_path
        self._attach(engine)
        self.clock.begin(engine.state.iteration)
        self.timing.start()
        start = time.perf_counter()
        try:
            engine.run(self.data if self.data is not None else range(self.epoch_length), **self._length())
        finally:
            if self.writer is not None:
                self.writer.close()
        self.seconds = time.perf_counter() - start
        self.iterations_run = self.clock.iterations_run(engine.state.iteration)
        self.state = engine.state
        if self.budget is not None and idist.get_rank() == 0:
            self.budget.save(self.timing)
        if self.final is not None:
            self._save_final(engine)
        elif idist.get_rank() == 0:
            remove_stale_checkpoints(self.checkpoint_dir)
        idist.barrier() if idist.get_world_size() > 1 else None
        return self.final_path

    def budget_record(self) -> dict[str, Any] | None:
        """The budget plan with the spent seconds (None without a budget), for ``metrics.json`` and run records."""
        if self.budget is None:
            return None
        return {**(self.budget.plan or {"budget_minutes": self.budget.minutes}), "stopped_on_clock": self.stopped_on_clock,
                "spent_train_seconds": round(self.timing.train_seconds, 3),
                "spent_wall_seconds": round(self.timing.wall_seconds, 3)}  # fmt: skip

    def _length(self) -> dict[str, int]:
        """``engine.run`` length: planned epochs, iterations, or (budget not planned yet) epochs without end."""
        if self.budget is not None:
            return {"max_epochs": self.budget.planned_epochs or _UNPLANNED_EPOCHS}
        if self.max_iterations is not None:
            return {"max_iters": self.max_iterations, "epoch_length": self.epoch_length}
        return {"max_epochs": self.max_epochs}

    def _process(self, engine: Engine, batch: Any) -> dict[str, float]:
        if self.data is None:  # the engine runs over the iteration numbers: the batch is a function of them
            batch = self.batches(engine.state.iteration - 1) if self.batches is not None else engine.state.iteration - 1
        return self.step_fn(engine, batch)

    def _attach(self, engine: Engine) -> None:
        """Register the phase's handlers, in the order that keeps checkpoints consistent."""
        self.writer = writer = self._tensorboard()
        engine.add_event_handler(Events.GET_BATCH_STARTED, lambda _: self.timing.step_started())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._time_step)  # first: the step's own time
        if self.data is not None:
            engine.add_event_handler(Events.EPOCH_STARTED, self._shuffle_shards)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._check_finite)  # before anything is saved
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._record, writer)  # before the checkpoint
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.checkpoint_every) | Events.COMPLETED,
                                 self._save_checkpoint)  # fmt: skip
        EpochMeans(self.name).attach(engine)  # before the handlers that read state.metrics
        if (self.handlers or self.preview_at_end) and idist.get_rank() == 0:  # files tracking handlers log at the end
            engine.add_event_handler(Events.COMPLETED, self._preview, writer)
        for handler in self.handlers:
            prepare_tracking_handler(handler, self.tracking_params, self.preview.files(), keep_open=not self.last_phase)
            handler.attach(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._record_metrics, writer)
        if self.preview_every > 0 and idist.get_rank() == 0:
            engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.preview_every), self._preview, writer)
        if self.budget is not None:
            engine.add_event_handler(Events.ITERATION_COMPLETED, self._stop_on_clock)
            engine.add_event_handler(Events.EPOCH_STARTED, lambda e: self.budget.epoch_started(
                e.state.epoch, e.state.iteration, self.timing.wall_seconds))  # fmt: skip
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._replan)

    def _save_final(self, engine: Engine) -> None:
        payload = {k: v.state_dict() for k, v in self.final.items()}  # type: ignore[union-attr]
        payload["history"] = self.history.state_dict()
        payload["seconds_last_run"] = self.seconds
        payload["train_seconds"] = self.timing.train_seconds
        payload["metrics"] = {k: float(v) for k, v in engine.state.metrics.items() if isinstance(v, (int, float))}
        if self.budget is not None:
            payload["budget"] = self.budget_record()
        if self.final_extra is not None:
            payload.update(self.final_extra())
        if idist.get_rank() == 0:
            atomic_torch_save(payload, self.final_path)
            removed = remove_stale_checkpoints(self.checkpoint_dir)
            if removed:
                logger.info("%s: removed stale checkpoints %s", self.name, ", ".join(p.name for p in removed))

    def images_per_second(self, global_batch: int) -> float:
        """Training images per second of this process's iterations (a resume counts only its own)."""
        return round(self.iterations_run * global_batch / self.seconds, 2) if self.seconds > 0 else 0.0

    def _save_checkpoint(self, engine: Engine) -> None:
        """Write ``<prefix>checkpoint_<iteration>.pt``, then delete the older ones.

        In this order a kill at any instant leaves at least one complete checkpoint (Ignite's ``Checkpoint``
        deletes the previous file before writing the next, so a kill during the write left none and the
        phase restarted from scratch). A resumed run also removes the file it resumed from.
        """
        path = self.checkpoint_dir / f"{self.checkpoint_prefix}checkpoint_{engine.state.iteration}.pt"
        if idist.get_rank() != 0 or path.exists():  # the last iteration fires both "every" and COMPLETED
            return
        payload = {k: v.state_dict() for k, v in self.to_save.items()}
        atomic_torch_save(payload, path)
        remove_stale_checkpoints(self.checkpoint_dir)

    def _resume(self, engine: Engine) -> None:
        last = latest_checkpoint(self.checkpoint_dir)
        if last is None:
            return
        state = load_state(last)
        if "engine" not in state and "trainer" in state:  # StyleGAN2 checkpoints written before its move onto this engine
            state["engine"] = state["trainer"]
        Checkpoint.load_objects({k: v for k, v in self.to_save.items() if k in state}, state)  # older files lack some
        if self.data is not None:
            self.data.resume_at(engine.state.iteration % self.epoch_length)
            if idist.get_world_size() > 1:  # every rank restored rank 0's RNG state: give each its own stream again
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,))) + idist.get_rank())
        logger.info("%s: resumed from %s at iteration %d", self.name, last.name, engine.state.iteration)

    def _time_step(self, engine: Engine) -> None:
        seconds = self.timing.step_completed()
        if self.budget is None or self.budget.plan is not None:
            return
        epochs = self.budget.observe(seconds, engine.state.iteration)
        if epochs is None:
            return
        if idist.get_world_size() > 1:  # rank 0's plan for every rank
            epochs = int(idist.broadcast(torch.tensor(epochs), src=0).item())
            self.budget.adopt(epochs)
        engine.state.max_epochs = epochs
        self.clock.total = epochs * self.epoch_length
        if idist.get_rank() == 0:
            self.budget.save(self.timing)  # the first plan: a resume reads it back instead of calibrating

    def _replan(self, engine: Engine) -> None:
        """Plan the phase's epochs again from the whole epochs' wall time (rank 0's plan for every rank)."""
        epochs = self.budget.replan(engine.state.epoch, self.timing.wall_seconds)
        if idist.get_world_size() > 1:
            epochs = int(idist.broadcast(torch.tensor(-1 if epochs is None else epochs), src=0).item())
            epochs = None if epochs < 0 else epochs
            if epochs is not None:
                self.budget.adopt(epochs)
        if epochs is None:
            return
        engine.state.max_epochs = epochs
        self.clock.total = epochs * self.epoch_length
        if idist.get_rank() == 0:
            self.budget.save(self.timing)  # written before the next checkpoint: a resume keeps this plan

    def _stop_on_clock(self, engine: Engine) -> None:
        if self.budget is None or self.stopped_on_clock:
            return
        over = self.budget.over_time(self.timing.wall_seconds)
        if idist.get_world_size() > 1:  # rank 0's clock for every rank: all stop at the same iteration
            over = bool(idist.broadcast(torch.tensor(int(over)), src=0).item())
        if not over:
            return
        self.stopped_on_clock = True
        self.budget.record_stop(engine.state.iteration, self.timing.wall_seconds)
        if idist.get_rank() == 0:
            self.budget.save(self.timing)
        engine.terminate()

    def _shuffle_shards(self, engine: Engine) -> None:
        """A new shuffle per epoch for a ``DistributedSampler`` (a plain shuffling loader needs nothing)."""
        sampler = getattr(self.data.loader if self.data is not None else None, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(engine.state.epoch)

    def _check_finite(self, engine: Engine) -> None:
        objects = self.final if self.final is not None else self.to_save
        networks = {k: v for k, v in objects.items() if isinstance(v, torch.nn.Module)}
        check_finite(self.name, engine.state.iteration, engine.state.output or {}, networks,
                     lambda: latest_checkpoint(self.checkpoint_dir))

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
        total = self.total_iterations() or "?"
        logger.info("%s it %d/%s  %s  (%.2f it/s, eta %s)", self.name, it, total,
                    "  ".join(f"{k}={v:.4g}" for k, v in means.items()), self.clock.rate(it), self.clock.eta(it))
        if writer is not None:
            for k, v in means.items():
                writer.add_scalar(f"{self.name}/{k}", v, it)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the network itself)."""
    return getattr(model, "module", model)
