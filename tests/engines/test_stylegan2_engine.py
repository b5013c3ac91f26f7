"""StyleGAN2-ADA engine: outputs, resume, finished runs, transfer learning, sample writer (tiny nets, random data)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_synth.augment import AdaptiveAugmentPipeline, AdaptiveAugmentProbability
from monai_synth.engines.stylegan2 import StyleGAN2SampleWriter, StyleGAN2Step, StyleGAN2Trainer, count_classes
from monai_synth.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from monai_synth.networks.stylegan2_checkpoint import latest_stylegan2_checkpoint, transfer_stylegan2_weights

TINY = {"channel_base": 128, "channel_max": 16}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_trainer(
    output_dir: Path, epochs: int = 1, size: int = 16, num_classes: int = 2, seed: int = 0, **kw
) -> StyleGAN2Trainer:
    """8 random images, batch 4 (2 iterations per epoch); R1 and path length every 2nd iteration."""
    torch.manual_seed(seed)
    data = [{"image": torch.rand(1, size, size) * 2 - 1, "label": i % 2} for i in range(8)]
    loader = torch.utils.data.DataLoader(data, batch_size=4, drop_last=True)
    g = StyleGAN2Generator(size, 1, num_classes, z_dim=8, w_dim=8, mapping_layers=1, **TINY)
    d = StyleGAN2Discriminator(size, 1, num_classes, mapping_layers=1, **TINY)
    augment = AdaptiveAugmentPipeline(p=0.1)
    ada = AdaptiveAugmentProbability(augment, interval_images=4, speed_kimg=0.1)
    step = StyleGAN2Step(g, d, augment, ada, r1_interval=2, pl_weight=2.0, pl_interval=2, ema_kimg=0.01)
    return StyleGAN2Trainer(
        step, loader, output_dir, epochs=epochs, checkpoint_every=1, log_every=1, grid_rows=2, grid_columns=3, **kw
    )


def assert_same_state(a: torch.nn.Module | torch.optim.Optimizer, b: torch.nn.Module | torch.optim.Optimizer) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    if isinstance(a, torch.optim.Optimizer):
        sa, sb = sa["state"], sb["state"]
        sa = {f"{k}.{n}": v for k, s in sa.items() for n, v in s.items()}
        sb = {f"{k}.{n}": v for k, s in sb.items() for n, v in s.items()}
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(torch.as_tensor(sa[key]), torch.as_tensor(sb[key])), key


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, StyleGAN2Trainer]:
    out = tmp_path_factory.mktemp("stylegan2_run")
    trainer = make_trainer(out)
    trainer.run()
    return out, trainer


def test_training_writes_checkpoints_grids_and_logs(trained) -> None:
    out, trainer = trained
    assert trainer.state.iteration == 2
    output = trainer.state.output
    assert {"loss_g", "loss_d", "r1", "pl", "ada_p", "r_t", "kimg"} <= output.keys()
    assert all(np.isfinite(v) for v in output.values())
    assert output["r1"] > 0 and output["pl"] > 0 and output["kimg"] == pytest.approx(0.008)
    assert output["ada_p"] != pytest.approx(0.1)  # the controller moved p (interval: 4 images)
    checkpoints = sorted(p.name for p in (out / "checkpoints").glob("*.pt"))
    assert checkpoints == ["stylegan2_checkpoint_2.pt"]  # written every iteration, the newest kept
    state = torch.load(out / "checkpoints" / "stylegan2_checkpoint_2.pt", weights_only=True)
    assert {"engine", "generator", "generator_ema", "discriminator", "optimizer_g", "optimizer_d", "augment",
            "ada", "rng", "data_order", "timing", "history", "generator_config"} <= state.keys()  # fmt: skip
    assert state["engine"]["iteration"] == 2
    for k in (0, 1):
        grid = np.asarray(Image.open(out / f"samples_class{k}.png"))
        assert grid.shape == (2 * 16 + 2, 3 * 16 + 4)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert not list((out / "checkpoints").glob("*.tmp"))  # atomic writes leave no temporary files
    assert (out / "stylegan2_loss_curves.png").is_file()
    record = json.loads((out / "run_record.json").read_text())
    assert record["settings"]["num_classes"] == 2 and record["dataset"]["num_files"] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 2 and metrics["train_seconds"] > 0 and "budget" not in metrics


def test_resume_restores_iteration_and_weights(trained, tmp_path) -> None:
    out, first = trained
    again = make_trainer(out, seed=123)  # different initial weights
    again.run()  # finished: loads the last checkpoint, trains nothing
    assert again.state.iteration == 2 and again.step.num_images == 8 and again.phase.iterations_run == 0
    for name in ("generator", "generator_ema", "discriminator", "optimizer_g", "optimizer_d", "augment"):
        assert_same_state(getattr(first.step, name), getattr(again.step, name))
    assert again.step.ada.p == first.step.ada.p


def test_finished_run_is_not_repeated_and_more_epochs_continue(trained, tmp_path) -> None:
    out, _ = trained
    work = tmp_path / "run"
    (work / "checkpoints").mkdir(parents=True)
    for f in (out / "checkpoints").glob("*.pt"):
        (work / "checkpoints" / f.name).write_bytes(f.read_bytes())
    done = make_trainer(work, seed=5)
    done.run()
    assert done.state.iteration == 2 and (work / "samples_class0.png").exists()
    longer = make_trainer(work, epochs=2, seed=6)
    longer.run()
    assert longer.state.iteration == 4
    assert latest_stylegan2_checkpoint(work / "checkpoints").name == "stylegan2_checkpoint_4.pt"
    assert len(list((work / "checkpoints").glob("*.pt"))) == 1  # the newest only


def test_transfer_learning_loads_matching_layers(trained, tmp_path, caplog) -> None:
    out, source = trained
    caplog.set_level(logging.INFO)
    target = make_trainer(tmp_path / "bigger", size=32, num_classes=3, resume_from=out / "checkpoints", seed=9)
    assert target.transfer() == out / "checkpoints"
    g, g_src = target.step.generator, source.step.generator
    assert torch.equal(g.synthesis.blocks["b16"].conv1.conv.weight, g_src.synthesis.blocks["b16"].conv1.conv.weight)
    assert not torch.equal(g.mapping.embed.weight[:, :2], g_src.mapping.embed.weight)  # (8, 2) vs (8, 3): skipped
    d, d_src = target.step.discriminator, source.step.discriminator
    assert torch.equal(d.blocks["b16"].conv0.weight, d_src.blocks["b16"].conv0.weight)
    assert target.state is None and not (tmp_path / "bigger" / "checkpoints").exists()  # a new run, not a resume
    assert "shape mismatch, skipped" in caplog.text and "mapping.embed.weight (8, 2) -> (8, 3)" in caplog.text
    reports = transfer_stylegan2_weights(out / "checkpoints", {"generator": g})
    assert "synthesis.blocks.b32.conv0.conv.weight" in reports["generator"].not_in_source


def test_sample_writer(trained, tmp_path) -> None:
    out, _ = trained
    paths = StyleGAN2SampleWriter(out / "checkpoints", tmp_path / "s", num_samples=3, class_label=1, seed=7).run()
    assert [p.name for p in paths] == ["stylegan2_000007.png", "stylegan2_000008.png", "stylegan2_000009.png"]
    lines = [json.loads(x) for x in (tmp_path / "s" / "manifest.jsonl").read_text().splitlines()]
    assert [x["seed"] for x in lines] == [7, 8, 9] and all(x["condition"] == {"class_label": 1} for x in lines)
    assert all(x["synthetic"] and x["model"] == "stylegan2_ada" and len(x["checkpoint_sha256"]) == 64 for x in lines)
    alone = StyleGAN2SampleWriter(out / "checkpoints", tmp_path / "one", num_samples=1, class_label=1, seed=9).run()
    assert np.array_equal(np.asarray(Image.open(alone[0])), np.asarray(Image.open(paths[2])))  # per-sample seeds
    mixed = StyleGAN2SampleWriter(out, tmp_path / "m", num_samples=4, fmt="nifti").run()  # run folder works too
    assert len(mixed) == 4 and mixed[0].name.endswith(".nii.gz")
    with pytest.raises(ValueError, match="class_label"):
        StyleGAN2SampleWriter(out / "checkpoints", tmp_path / "bad", class_label=5).run()


def test_count_classes() -> None:
    assert count_classes([{"label": 0}, {"label": 2}]) == 3
    assert count_classes([{"image": "a.png"}]) == 0


def test_budget_plans_the_run_and_is_recorded(tmp_path, monkeypatch) -> None:
    """1 s per step (a fake clock moved by the step), 2 steps per epoch, a 4 s budget: 2 epochs, in metrics.json."""
    import monai_synth.engines.training_budget as training_budget

    class Clock:
        now = 0.0

        def perf_counter(self) -> float:
            return self.now

    clock = Clock()
    monkeypatch.setattr(training_budget, "time", clock)
    call = StyleGAN2Step.__call__

    def timed(self, engine, batch):
        clock.now += 1.0
        return call(self, engine, batch)

    monkeypatch.setattr(StyleGAN2Step, "__call__", timed)
    trainer = make_trainer(tmp_path, epochs=50, budget_minutes=4 / 60, calibration_iterations=1)
    trainer.run()
    assert trainer.state.iteration == 4
    budget = json.loads((tmp_path / "metrics.json").read_text())["budget"]
    assert budget["planned_epochs"] == 2 and budget["planned_seconds"] == pytest.approx(4.0)
    assert budget["spent_train_seconds"] == pytest.approx(4.0) and not budget["stopped_on_clock"]
    assert json.loads((tmp_path / "budget.json").read_text())["planned_iterations"] == 4
    record = json.loads((tmp_path / "run_record.json").read_text())
    assert record["settings"]["budget_minutes"] == pytest.approx(4 / 60) and record["budget"]["planned_epochs"] == 2
    trainer = make_trainer(tmp_path, epochs=50, budget_minutes=4 / 60, calibration_iterations=1)
    trainer.run()  # finished: the recorded plan says 4 iterations
    assert trainer.phase.iterations_run == 0 and "budget" in json.loads((tmp_path / "run_record.json").read_text())


def test_checkpoint_of_the_former_trainer_resumes(trained, tmp_path) -> None:
    """Checkpoints written before the move onto TrainingPhase keep the engine state under "trainer"."""
    out, _ = trained
    state = torch.load(out / "checkpoints" / "stylegan2_checkpoint_2.pt", weights_only=True)
    state["trainer"] = state.pop("engine")
    for key in ("history", "timing"):
        state.pop(key)
    (tmp_path / "old" / "checkpoints").mkdir(parents=True)
    torch.save(state, tmp_path / "old" / "checkpoints" / "stylegan2_checkpoint_2.pt")
    old = make_trainer(tmp_path / "old", epochs=2, seed=3)
    old.run()
    assert old.state.iteration == 4 and old.phase.iterations_run == 2 and old.step.num_images == 16
