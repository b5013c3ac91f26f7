"""Train for a time, not a number of epochs: measured seconds of a phase, and a wall-clock budget turned into epochs.

``PhaseTiming`` adds up the seconds of a phase over every process that ran it (it is saved in the checkpoints).
``TrainingBudget`` times the first iterations of a run (the first one, which pays for allocations and kernel
selection, is left out), plans the number of whole epochs that fit the budget at that rate (rounded to the
nearest), and writes the plan to ``budget.json`` in the phase folder. Then it plans again at the end of every whole
epoch from the first one after the calibration that starts at or after ``steady_from_iteration`` (for Medfusion's
autoencoder, the first iteration with the adversarial term): from the mean wall-clock seconds (steps, data,
previews, everything) of the last ``replan_window`` whole epochs and the seconds left, the phase ends after the
epochs that fit (rounded to the nearest). A whole epoch before that one (after the calibration's) is cheaper than
the later ones, so it may end the phase sooner; it may make it longer only where the plan ended before the first
steady epoch (a calibration that ran slow), and then only up to that epoch, which re-plans. The first calibration sees only a few steps: the re-plans correct
steps whose cost changes later (a loss term that starts at a later epoch), the per-epoch costs that the step
times miss, and a machine whose speed drifts during the run; the phase ends within about half an epoch of its
budget. The plan is saved with every re-plan. A resumed run reads the plan back and resumes exactly where the
checkpoint left off (weights, optimiser, data order); it goes on re-planning from the whole epochs it runs
itself, so under a budget the number of epochs follows the clock to the end (the half epoch a run resumes in is
not timed). As a safety net the phase stops once its wall-clock seconds exceed ``stop_factor`` x the budget;
such a stop is recorded and a rerun does not go on.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_synth.engines.run_files import now_iso, save_json_atomic

logger = logging.getLogger("monai_synth")

BUDGET_FILE = "budget.json"


class PhaseTiming:
    """Seconds of a phase: ``train_seconds`` (batch + step) and ``wall_seconds`` (everything), over all its runs."""

    def __init__(self) -> None:
        self.train_seconds = 0.0
        self.wall_seconds = 0.0
        self._step_start: float | None = None
        self._mark: float | None = None

    def start(self) -> None:
        """Start the wall clock of this process (at the beginning of ``engine.run``)."""
        self._mark = time.perf_counter()

    def step_started(self) -> None:
        self._step_start = time.perf_counter()

    def step_completed(self) -> float:
        """Add this iteration's step and wall time; return the step's seconds."""
        now = time.perf_counter()
        seconds = now - self._step_start if self._step_start is not None else 0.0
        self.train_seconds += seconds
        if self._mark is not None:
            self.wall_seconds += now - self._mark
        self._step_start, self._mark = None, now
        return seconds

    def state_dict(self) -> dict[str, float]:
        return {"train_seconds": self.train_seconds, "wall_seconds": self.wall_seconds}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.train_seconds = float(state["train_seconds"])
        self.wall_seconds = float(state["wall_seconds"])


class TrainingBudget:
    """Plan a phase's epochs from ``budget_minutes`` and the step time measured on its first iterations.

    Args:
        budget_minutes: wall-clock minutes for the phase (> 0).
        folder: the phase folder; the plan is ``folder/budget.json``.
        epoch_length: iterations per epoch.
        calibration_iterations: iterations timed to plan (after one warm-up iteration).
        stop_factor: stop the phase once its wall-clock seconds exceed this multiple of the budget.
        steady_from_iteration: the first iteration (1-based) from which the step costs what it will cost for the
            rest of the phase; the re-plans time the whole epochs that start there or later.
        replan_window: the re-plans use the mean wall-clock seconds of this many last timed epochs.
    """

    def __init__(self, budget_minutes: float, folder: str | Path, epoch_length: int,
                 calibration_iterations: int = 10, stop_factor: float = 1.25,
                 steady_from_iteration: int = 1, replan_window: int = 3) -> None:  # fmt: skip
        if not budget_minutes or float(budget_minutes) <= 0:
            raise ValueError(f"budget_minutes must be > 0 (or null to train for 'epochs'), got {budget_minutes!r}")
        if int(calibration_iterations) < 1 or float(stop_factor) < 1 or int(replan_window) < 1:
            raise ValueError(f"calibration_iterations and replan_window must be >= 1 and stop_factor >= 1, got "
                             f"{calibration_iterations!r}, {replan_window!r} and {stop_factor!r}")  # fmt: skip
        self.minutes = float(budget_minutes)
        self.seconds = self.minutes * 60.0
        self.path = Path(folder) / BUDGET_FILE
        self.epoch_length = int(epoch_length)
        self.calibration_iterations = int(calibration_iterations)
        self.stop_factor = float(stop_factor)
        self.steady_from_iteration = max(1, int(steady_from_iteration))
        self.replan_window = int(replan_window)
        self.plan: dict[str, Any] | None = self._read()
        self._times: list[float] = []
        self._epoch_start: tuple[int, float] | None = None  # (epoch, wall seconds) when this process saw it start
        self._epoch_seconds: list[float] = []  # wall seconds of the whole epochs this process timed for re-plans

    def _read(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            plan = json.loads(self.path.read_text())
        except ValueError as e:
            raise ValueError(f"{self.path}: not a readable budget plan ({e}); delete it to plan again") from e
        if float(plan.get("budget_minutes", -1)) != self.minutes:
            raise ValueError(f"{self.path}: this phase was planned for budget_minutes {plan.get('budget_minutes')}, "
                             f"not {self.minutes}; rerun with the recorded budget or choose a new output_dir")
        return plan

    @property
    def planned_epochs(self) -> int | None:
        """Epochs of the plan (None before calibration)."""
        return int(self.plan["planned_epochs"]) if self.plan else None

    @property
    def last_iteration(self) -> int | None:
        """The iteration the phase ends at: the planned one, or where the clock stopped it (None: not planned)."""
        if not self.plan:
            return None
        return int(self.plan.get("stopped_at_iteration") or self.plan["planned_epochs"] * self.epoch_length)

    def observe(self, step_seconds: float, iteration: int) -> int | None:
        """Record one iteration's step time; return the planned epochs when this iteration completes the calibration."""
        if self.plan is not None:
            return None
        self._times.append(float(step_seconds))
        if len(self._times) < self.calibration_iterations + 1:
            return None
        return self.plan_from(sum(self._times[1:]) / self.calibration_iterations, iteration)

    def plan_from(self, seconds_per_iteration: float, iteration: int) -> int:
        """Whole epochs that fit the budget at ``seconds_per_iteration`` (at least the epoch under way)."""
        epoch_seconds = self.epoch_length * max(seconds_per_iteration, 1e-9)
        epochs = max(1, round(self.seconds / epoch_seconds), math.ceil(iteration / self.epoch_length))
        first = max(self.steady_from_iteration, int(iteration) + 1)  # the re-plan's epoch starts here or later
        replan_epoch = math.ceil((first - 1) / self.epoch_length) + 1
        self.plan = {
            "budget_minutes": self.minutes, "budget_seconds": round(self.seconds, 3),
            "calibration_iterations": self.calibration_iterations,
            "seconds_per_iteration": seconds_per_iteration, "planned_at_iteration": int(iteration),
            "epoch_length": self.epoch_length, "planned_epochs": int(epochs),
            "planned_iterations": int(epochs * self.epoch_length),
            "planned_seconds": round(epochs * epoch_seconds, 3), "planned_at": now_iso(),
            "replan_at_epoch": replan_epoch if replan_epoch <= epochs else None,
        }  # fmt: skip
        logger.info("budget %.4g min: %.4g s per iteration -> %d epochs (%d iterations, %.1f s planned)",
                    self.minutes, seconds_per_iteration, epochs, epochs * self.epoch_length, self.plan["planned_seconds"])
        return int(epochs)

    def epoch_started(self, epoch: int, iteration: int, wall_seconds: float) -> None:
        """Note the wall-clock seconds at the start of ``epoch`` (1-based), which a re-plan may time.

        A resume in the middle of an epoch starts that epoch again at a later ``iteration``: it is not timed.
        """
        whole = int(iteration) == (int(epoch) - 1) * self.epoch_length
        self._epoch_start = (int(epoch), float(wall_seconds)) if whole else None

    def replan(self, epoch: int, wall_seconds: float) -> int | None:
        """At the end of ``epoch``: plan the epochs again from the last whole epochs' wall time; return them (or None).

        Re-plans start at the plan's ``replan_at_epoch`` and time only the whole epochs this process saw start (a
        resumed run does not time the epoch it resumes in). The phase ends after the epochs whose mean time (over
        the last ``replan_window`` timed epochs) fits the seconds left, rounded to the nearest, and never before
        the epoch that just ended. Whole epochs before ``replan_at_epoch`` (after the calibration's) may shorten
        the plan, and lengthen it only up to the first steady epoch (:meth:`_before_steady`). None: nothing to
        re-plan from at this epoch.
        """
        plan = self.plan
        if plan is None or self._epoch_start is None or self._epoch_start[0] != int(epoch):
            return None
        seconds = max(float(wall_seconds) - self._epoch_start[1], 1e-9)
        if plan.get("replan_at_epoch") is None or int(epoch) < plan["replan_at_epoch"]:
            return self._before_steady(int(epoch), seconds, float(wall_seconds))
        self._epoch_seconds.append(seconds)
        recent = self._epoch_seconds[-self.replan_window:]
        epoch_seconds = sum(recent) / len(recent)
        left = self.seconds - float(wall_seconds)
        epochs = max(int(epoch), int(epoch) + round(left / epoch_seconds))
        return self._adopt_replan(epoch, epochs, epoch_seconds, wall_seconds)

    def _before_steady(self, epoch: int, epoch_seconds: float, wall_seconds: float) -> int | None:
        """At the end of a whole epoch before the step's steady cost (Medfusion's autoencoder before its adversarial
        term). Such an epoch costs at most what the later ones will, so it may end the phase sooner. It may make the
        phase longer only when the plan ends before the first steady epoch (a calibration that ran slow): then up to
        that epoch, which re-plans from its own steady time.

        The epoch of the calibration (with the warm-up iteration) is not timed. None: the plan stands.
        """
        plan = self.plan
        if epoch <= math.ceil(int(plan["planned_at_iteration"]) / self.epoch_length):
            return None
        epochs = max(epoch, epoch + round((self.seconds - wall_seconds) / epoch_seconds))
        planned = int(plan["planned_epochs"])
        if epochs < planned:
            return self._adopt_replan(epoch, epochs, epoch_seconds, wall_seconds)
        steady_epoch = math.ceil((self.steady_from_iteration - 1) / self.epoch_length) + 1
        if epochs == planned or planned >= steady_epoch:  # the plan reaches the steady epoch: it re-plans there
            return None
        longer = min(epochs, steady_epoch)
        self.plan = {**plan, "replan_at_epoch": steady_epoch if longer == steady_epoch else None}
        return self._adopt_replan(epoch, longer, epoch_seconds, wall_seconds)

    def _adopt_replan(self, epoch: int, epochs: int, epoch_seconds: float, wall_seconds: float) -> int:
        """Make ``epochs`` the plan, re-planned at the end of ``epoch`` from epochs of ``epoch_seconds``."""
        plan = self.plan
        left = self.seconds - float(wall_seconds)
        self.plan = {
            **plan, "replanned_at_epoch": int(epoch), "replans": int(plan.get("replans", 0)) + 1,
            "replan_epoch_seconds": round(epoch_seconds, 3),
            "first_plan_epochs": plan.get("first_plan_epochs", plan["planned_epochs"]),
            "planned_epochs": epochs, "planned_iterations": epochs * self.epoch_length,
            "planned_seconds": round(float(wall_seconds) + (epochs - int(epoch)) * epoch_seconds, 3),
        }  # fmt: skip
        if epochs != int(plan["planned_epochs"]):
            logger.info("budget %.4g min: epochs take %.1f s with %.1f s left -> %d epochs in all (was %d)",
                        self.minutes, epoch_seconds, left, epochs, int(plan["planned_epochs"]))
        return epochs

    def adopt(self, epochs: int) -> None:
        """Take ``epochs`` decided by rank 0 (data-parallel runs plan and re-plan on rank 0)."""
        if self.plan is not None and int(self.plan["planned_epochs"]) != int(epochs):
            self.plan = {**self.plan, "planned_epochs": int(epochs), "planned_iterations": int(epochs) * self.epoch_length}

    def over_time(self, wall_seconds: float) -> bool:
        """Whether the phase has run past ``stop_factor`` x the budget (the safety net)."""
        return wall_seconds > self.stop_factor * self.seconds

    def record_stop(self, iteration: int, wall_seconds: float) -> None:
        """Remember that the clock stopped the phase at ``iteration`` (a rerun ends there too).

        A phase stopped before its calibration finished is planned from the iterations it did time, so that its
        ``budget.json`` always holds a plan once the phase has ended.
        """
        if self.plan is None and self._times:
            timed = self._times[1:] or self._times
            self.plan_from(sum(timed) / len(timed), iteration)
        if self.plan is not None:
            self.plan = {**self.plan, "stopped_at_iteration": int(iteration), "stopped_after_seconds": round(wall_seconds, 3)}
        logger.warning("budget: stopped at iteration %d after %.1f s (%.4g x the %.1f s budget)",
                       iteration, wall_seconds, self.stop_factor, self.seconds)

    def save(self, timing: PhaseTiming | None = None) -> dict[str, Any]:
        """Write the plan (with the spent seconds so far) to ``budget.json``; return what was written."""
        record = dict(self.plan or {"budget_minutes": self.minutes, "budget_seconds": self.seconds})
        if timing is not None:
            record.update(spent_train_seconds=round(timing.train_seconds, 3), spent_wall_seconds=round(timing.wall_seconds, 3))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_json_atomic(record, self.path)
        return record


def split_budget(budget_minutes: float | None, fractions: Sequence[float]) -> list[float | None]:
    """Share one budget between the phases of a run, e.g. Medfusion's ``[0.25, 0.75]`` (autoencoder, diffusion).

    Args:
        budget_minutes: the run's budget (None: no budget, every phase gets None and trains for its epochs).
        fractions: each phase's share, positive, summing to 1.

    Returns:
        The minutes of each phase, in the order of ``fractions``.
    """
    if any(float(f) <= 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"budget fractions must be positive and sum to 1, got {list(fractions)}")
    if budget_minutes is None:
        return [None] * len(fractions)
    if float(budget_minutes) <= 0:
        raise ValueError(f"budget_minutes must be > 0 (or null to train for 'epochs'), got {budget_minutes!r}")
    return [float(budget_minutes) * float(f) for f in fractions]


def spent_wall_seconds(folder: str | Path) -> float | None:
    """The wall-clock seconds a phase trained on a budget recorded in ``folder/budget.json`` (None: no record)."""
    path = Path(folder) / BUDGET_FILE
    if not path.is_file():
        return None
    try:
        spent = json.loads(path.read_text()).get("spent_wall_seconds")
    except ValueError as e:
        raise ValueError(f"{path}: not a readable budget plan ({e})") from e
    return None if spent is None else float(spent)


def remaining_minutes(budget_minutes: float, spent_seconds: float, least_minutes: float) -> float:
    """A later phase's budget: the run's ``budget_minutes`` less what earlier phases spent, never below
    ``least_minutes`` (so that an earlier phase that overran still leaves its successor some time).

    Rounded to 1e-4 minutes; the same record gives the same budget, so a resumed run plans the same phase.
    """
    return round(max(float(budget_minutes) - float(spent_seconds) / 60.0, float(least_minutes)), 4)
