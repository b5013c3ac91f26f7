"""Wall-clock budgets: planning from the calibrated step time, the plan reused on resume, the clock as a safety net.

The clock is a fake one that only the step moves (``STEP_SECONDS`` per iteration), so every number is exact.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

import monai_synth.engines.training_budget as training_budget
from monai_synth.engines.training_budget import TrainingBudget, remaining_minutes, spent_wall_seconds, split_budget
from monai_synth.engines.training_run import TrainingPhase


class FakeClock:
    """Stands in for the ``time`` module of ``training_budget``: ``perf_counter`` moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(training_budget, "time", fake)
    return fake


class ToyStep:
    """Least squares on batches drawn from (seed, iteration); each call moves the fake clock by ``seconds``."""

    def __init__(self, clock: FakeClock, seconds: float, fail_at: int | None = None) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Linear(3, 1)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.clock, self.seconds, self.fail_at = clock, seconds, fail_at

    def __call__(self, engine, batch: int) -> dict[str, float]:
        it = engine.state.iteration
        assert batch == it - 1  # no batch source: the batch is the 0-based iteration
        if it == self.fail_at:
            raise KeyboardInterrupt("killed")
        self.clock.now += self.seconds
        g = torch.Generator().manual_seed(it)
        x = torch.randn(4, 3, generator=g)
        loss = (self.model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": float(loss)}


def phase(tmp_path, step: ToyStep, budget_minutes: float | None, final: bool = True, calibration_iterations: int = 2,
          **kw) -> TrainingPhase:
    return TrainingPhase("toy", tmp_path, step, {"model": step.model, "opt": step.opt},
                         {"model": step.model} if final else None, epoch_length=4, max_epochs=100,
                         checkpoint_every=2, log_every=1, budget_minutes=budget_minutes,
                         calibration_iterations=calibration_iterations, **kw)  # fmt: skip


def test_split_budget() -> None:
    assert split_budget(40.0, [0.25, 0.75]) == [10.0, 30.0]
    assert split_budget(None, [0.25, 0.75]) == [None, None]
    with pytest.raises(ValueError, match="sum to 1"):
        split_budget(10.0, [0.5, 0.6])
    with pytest.raises(ValueError, match="budget_minutes"):
        split_budget(0.0, [1.0])


def test_plan_is_the_nearest_whole_number_of_epochs(tmp_path) -> None:
    budget = TrainingBudget(1.0, tmp_path, epoch_length=10, calibration_iterations=3)
    for it, seconds in enumerate([9.0, 0.5, 0.7, 0.6], start=1):  # the first (warm-up) one is left out
        planned = budget.observe(seconds, it)
    assert planned == 60.0 / (10 * 0.6) == 10
    assert budget.plan["planned_iterations"] == 100 and budget.plan["planned_seconds"] == pytest.approx(60.0)
    assert budget.plan["replan_at_epoch"] == 2  # the first whole epoch after the calibration (iteration 4)
    assert TrainingBudget(1.0, tmp_path / "a", 10).plan_from(0.8, iteration=4) == 8  # 7.5 epochs fit: 8, not 7
    assert TrainingBudget(1.0, tmp_path / "b", 10).plan_from(0.9, iteration=4) == 7  # 6.7 epochs fit: 7, not 6
    steady = TrainingBudget(1.0, tmp_path / "c", 10, steady_from_iteration=31)  # e.g. a loss term from epoch 4 on
    steady.plan_from(0.6, iteration=4)
    assert steady.plan["replan_at_epoch"] == 4
    late = TrainingBudget(1.0, tmp_path / "d", 10, steady_from_iteration=201)
    late.plan_from(0.6, iteration=4)
    assert late.plan["replan_at_epoch"] is None  # past the planned 10 epochs: no re-plan
    assert TrainingBudget(1.0, tmp_path, 10).plan_from(100.0, iteration=25) == 3  # never less than the epoch under way
    budget.save()
    assert TrainingBudget(1.0, tmp_path, 10).planned_epochs == 10  # read back, not measured again
    with pytest.raises(ValueError, match="budget_minutes 1.0"):
        TrainingBudget(2.0, tmp_path, 10)
    with pytest.raises(ValueError, match="budget_minutes must be > 0"):
        TrainingBudget(0, tmp_path, 10)


def test_phase_trains_for_the_planned_epochs(tmp_path, clock) -> None:
    """0.5 s per step, 4 steps per epoch, 6 s budget: 3 epochs; planned and spent seconds recorded."""
    run = phase(tmp_path, ToyStep(clock, 0.5), budget_minutes=0.1)
    final = torch.load(run.run(), weights_only=True)
    assert run.state.iteration == 12 and run.state.epoch == 3
    plan = json.loads((tmp_path / "toy" / "budget.json").read_text())
    assert plan["planned_epochs"] == 3 and plan["planned_at_iteration"] == 3 and plan["seconds_per_iteration"] == 0.5
    assert plan["spent_train_seconds"] == pytest.approx(6.0) and plan["planned_seconds"] == pytest.approx(6.0)
    assert final["budget"]["spent_train_seconds"] == pytest.approx(6.0) and not final["budget"]["stopped_on_clock"]
    assert final["train_seconds"] == pytest.approx(6.0)


def test_resume_reuses_the_plan(tmp_path, clock) -> None:
    """Killed at iteration 11 (planned at 3, re-planned at the end of epoch 2): the resumed run, 10x faster,
    still ends at 12 with the same weights."""
    ref = phase(tmp_path / "ref", ToyStep(clock, 0.5), budget_minutes=0.1)
    reference = torch.load(ref.run(), weights_only=True)["model"]
    with pytest.raises(KeyboardInterrupt):
        phase(tmp_path / "run", ToyStep(clock, 0.5, fail_at=11), budget_minutes=0.1).run()
    assert json.loads((tmp_path / "run" / "toy" / "budget.json").read_text())["replanned_at_epoch"] == 2
    resumed = phase(tmp_path / "run", ToyStep(clock, 0.05), budget_minutes=0.1)  # measured again: 30 epochs
    got = torch.load(resumed.run(), weights_only=True)["model"]
    assert resumed.state.iteration == 12 and resumed.iterations_run == 2  # from checkpoint 10
    assert all(torch.equal(reference[k], got[k]) for k in reference)


def test_a_run_killed_before_its_replan_replans_from_its_own_first_whole_epoch(tmp_path, clock) -> None:
    """Killed at iteration 7, inside the re-plan's epoch 2: the resumed run (0.1 s per step) does not time the
    half epoch it resumes in but epoch 3, whole: 0.4 s, with 6 - (3.0 + 6 x 0.1) = 2.4 s left -> 6 more epochs;
    the later re-plans agree."""
    with pytest.raises(KeyboardInterrupt):
        phase(tmp_path, ToyStep(clock, 0.5, fail_at=7), budget_minutes=0.1).run()
    resumed = phase(tmp_path, ToyStep(clock, 0.1), budget_minutes=0.1)
    resumed.run()
    plan = json.loads((tmp_path / "toy" / "budget.json").read_text())
    assert plan["replan_epoch_seconds"] == pytest.approx(0.4) and plan["first_plan_epochs"] == 3
    assert plan["planned_epochs"] == 9 and resumed.state.iteration == 36
    assert plan["replans"] == 7 and plan["replanned_at_epoch"] == 9  # epochs 3 to 9, each re-planned (to 9)


def test_replan_corrects_a_step_that_becomes_slower(tmp_path, clock) -> None:
    """0.5 s per step up to iteration 8, then 1.0 s (a loss term that starts at epoch 3, ``budget_steady_from=9``),
    12 s budget. The calibration plans 6 epochs (24 x 0.5 s); epoch 3 takes 4 s with 12 - 8 = 4 s left, so the
    re-plan ends the phase after epoch 4: 12 s spent. Without it: 20 s, stopped on the clock at 15 s."""
    step = ToyStep(clock, 0.5)

    def slower(engine, batch):
        step.seconds = 1.0 if engine.state.iteration >= 9 else 0.5
        return step(engine, batch)

    run = phase(tmp_path, step, budget_minutes=0.2, budget_steady_from=9)
    run.step_fn = slower
    run.run()
    plan = json.loads((tmp_path / "toy" / "budget.json").read_text())
    assert plan["first_plan_epochs"] == 6 and plan["replan_at_epoch"] == 3 and plan["replanned_at_epoch"] == 4
    assert plan["replans"] == 2  # after epochs 3 and 4
    assert plan["planned_epochs"] == 4 and run.state.iteration == 16 and not run.stopped_on_clock
    assert plan["spent_wall_seconds"] == pytest.approx(12.0)


def _cheap_then_steady(tmp_path, clock, budget_seconds: float, second: float = 0.75) -> tuple[TrainingPhase, dict]:
    """A phase of 0.5 s steps in epoch 1 (the calibration's), ``second`` s in epoch 2, then 0.8 s from iteration 9 (a
    loss term that starts at epoch 3, ``budget_steady_from=9``); the phase after its run and its saved plan."""
    step = ToyStep(clock, 0.5)

    def steps(engine, batch):
        it = engine.state.iteration
        step.seconds = 0.5 if it <= 4 else second if it <= 8 else 0.8
        return step(engine, batch)

    run = phase(tmp_path, step, budget_minutes=budget_seconds / 60, budget_steady_from=9)
    run.step_fn = steps
    run.run()
    return run, json.loads((tmp_path / "toy" / "budget.json").read_text())


def test_an_epoch_before_the_steady_cost_shortens_the_plan_and_lengthens_it_only_to_the_steady_epoch(tmp_path,
                                                                                                       clock) -> None:
    """5.6 s budget: the calibration plans 3 epochs (5.6 / 2 s = 2.8); epoch 2 takes 3 s and leaves 0.6 s, less than
    half of even that cheaper epoch: the phase ends after epoch 2, 5 s spent. Without it, epoch 3 (3.2 s) would run
    until the clock stops it at 1.25 x 5.6 = 7 s.

    As PneumoniaMNIST at 32 px measured it: the autoencoder's epochs ran slower than its calibration, and the clock
    stopped its third epoch at 188 s of a 150 s share."""
    run, plan = _cheap_then_steady(tmp_path, clock, 5.6)
    assert plan["first_plan_epochs"] == 3 and plan["replan_at_epoch"] == 3 and plan["replanned_at_epoch"] == 2
    assert plan["planned_epochs"] == 2 and run.state.iteration == 8 and not run.stopped_on_clock
    assert plan["spent_wall_seconds"] == pytest.approx(5.0)

    # never later: 6.8 s budget, 3 epochs planned; epoch 2 runs at 0.25 s per step (1 s) and leaves 3.8 s, room
    # for 4 more such epochs, but it is no measure of the steady ones: the plan stands (no re-plan recorded at
    # epoch 2); epoch 3 (3.2 s) re-plans from its own steady time and ends the phase, 6.2 s spent
    clock.now = 0.0
    run, plan = _cheap_then_steady(tmp_path / "longer", clock, 6.8, second=0.25)
    assert plan["first_plan_epochs"] == 3 and plan["replanned_at_epoch"] == 3 and plan["replans"] == 1
    assert plan["planned_epochs"] == 3 and run.state.iteration == 12 and not run.stopped_on_clock
    assert plan["spent_wall_seconds"] == pytest.approx(6.2)

    # a calibration that ran slow (1 s per step in epoch 1) plans 2 epochs of a 10 s budget (round(10 / 4)), ending
    # before the steady cost starts (epoch 3). Epoch 2 (0.5 s per step: 2 s, 6 s spent, 4 s left) lengthens the plan,
    # but only to the steady epoch 3, which re-plans from its own time (3.2 s, 0.8 s left): 9.2 s spent. The plan
    # used to stand at 2 epochs and 6 s, 40 % of the budget unused (the MedNIST autoencoder of 2026-12-07: a
    # calibration of 0.37 s per step planned 2 epochs of 36 s in a 150 s share)
    clock.now = 0.0
    step = ToyStep(clock, 1.0)

    def slow_calibration(engine, batch):
        it = engine.state.iteration
        step.seconds = 1.0 if it <= 4 else 0.5 if it <= 8 else 0.8
        return step(engine, batch)

    run = phase(tmp_path / "slow", step, budget_minutes=10 / 60, budget_steady_from=9)
    run.step_fn = slow_calibration
    run.run()
    plan = json.loads((tmp_path / "slow" / "toy" / "budget.json").read_text())
    assert plan["first_plan_epochs"] == 2 and plan["replan_at_epoch"] == 3 and plan["replans"] == 2
    assert plan["planned_epochs"] == 3 and plan["replanned_at_epoch"] == 3 and run.state.iteration == 12
    assert plan["spent_wall_seconds"] == pytest.approx(9.2) and not run.stopped_on_clock


def test_replans_follow_a_machine_that_speeds_up(tmp_path, clock) -> None:
    """0.5 s per step for 3 epochs, then 0.25 s (a drifting machine), 12 s budget. The calibration and the first
    re-plan (epoch 2: 2 s with 8 s left) plan 6 epochs; the later re-plans see the faster epochs (mean of the
    last 3) and end the phase after epoch 9: 3 x 2 s + 6 x 1 s = 12 s spent. One re-plan would have spent 9 s."""
    step = ToyStep(clock, 0.5)

    def faster(engine, batch):
        step.seconds = 0.25 if engine.state.iteration > 12 else 0.5
        return step(engine, batch)

    run = phase(tmp_path, step, budget_minutes=0.2)
    run.step_fn = faster
    run.run()
    plan = json.loads((tmp_path / "toy" / "budget.json").read_text())
    assert plan["first_plan_epochs"] == 6 and plan["planned_epochs"] == 9 and run.state.iteration == 36
    assert plan["replanned_at_epoch"] == 9 and plan["replan_epoch_seconds"] == pytest.approx(1.0)
    assert plan["spent_wall_seconds"] == pytest.approx(12.0) and not run.stopped_on_clock


def test_a_later_phase_gets_what_the_earlier_ones_left(tmp_path) -> None:
    assert spent_wall_seconds(tmp_path) is None  # no record: the caller falls back to the phase's share
    (tmp_path / "budget.json").write_text(json.dumps({"budget_minutes": 2.5, "spent_wall_seconds": 168.8}))
    assert spent_wall_seconds(tmp_path) == 168.8
    assert remaining_minutes(10.0, 168.8, least_minutes=3.75) == round(10.0 - 168.8 / 60, 4) == 7.1867
    assert remaining_minutes(10.0, 540.0, least_minutes=3.75) == 3.75  # an overrun leaves at least the floor
    (tmp_path / "budget.json").write_text("{half")
    with pytest.raises(ValueError, match="budget.json"):
        spent_wall_seconds(tmp_path)


def test_clock_stops_a_phase_that_runs_over(tmp_path, clock) -> None:
    """Planned at 0.5 s per step, then 4 s per step: stopped once past 1.25 x 6 s; a rerun does not go on."""
    step = ToyStep(clock, 0.5)
    run = phase(tmp_path, step, budget_minutes=0.1, final=False)
    run.step_fn = lambda engine, b: (setattr(step, "seconds", 4.0 if engine.state.iteration > 3 else 0.5), step(engine, b))[1]
    run.run()
    # wall seconds after iteration 4: 3 x 0.5 + 4.0 = 5.5 <= 7.5; after iteration 5: 9.5 > 7.5
    assert run.stopped_on_clock and run.state.iteration == 5
    plan = json.loads((tmp_path / "toy" / "budget.json").read_text())
    assert plan["stopped_at_iteration"] == 5 and plan["planned_epochs"] == 3
    again = phase(tmp_path, ToyStep(clock, 0.5), budget_minutes=0.1, final=False)
    again.run()
    assert again.iterations_run == 0 and again.state.iteration == 5


def test_a_phase_stopped_before_its_calibration_ends_still_records_a_plan(tmp_path, clock) -> None:
    """3 s per step against a 6 s budget: the clock stops it at iteration 3 (9 s > 7.5 s), before its calibration
    (1 warm-up + 5 timed iterations) ends. It is planned from the 2 steps it timed; a rerun ends there too."""
    run = phase(tmp_path, ToyStep(clock, 3.0), budget_minutes=0.1, final=False, calibration_iterations=5)
    run.run()
    assert run.stopped_on_clock and run.state.iteration == 3
    plan = json.loads((tmp_path / "toy" / "budget.json").read_text())
    assert plan["stopped_at_iteration"] == 3 and plan["seconds_per_iteration"] == pytest.approx(3.0)
    assert plan["planned_epochs"] == 1  # 6 s / (4 x 3 s) rounds down to 0, at least the epoch under way
    again = phase(tmp_path, ToyStep(clock, 3.0), budget_minutes=0.1, final=False, calibration_iterations=5)
    again.run()
    assert again.iterations_run == 0 and again.state.iteration == 3
