"""A utility study on a constructed case: TSTR with real-like synthetic images scores high, with wrongly
labelled ones low; an interrupted study continues; ``monai-synth utility`` writes metrics.json and report.html."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from utility_data import SMALL, write_class_folders

from monai_synth.cli import main
from monai_synth.utility import UtilityStudy
from monai_synth.utility import study as study_module


def test_tstr_high_for_real_like_and_low_for_wrong_labels(tmp_path: Path, real: Path, synthetic: Path) -> None:
    wrong = write_class_folders(tmp_path / "wrong", [24, 24, 24], seed=3, labels=[1, 2, 0])  # class c looks like c+1
    good = UtilityStudy(synthetic, real, tmp_path / "good", **SMALL).run()
    bad = UtilityStudy(wrong, real, tmp_path / "bad", **SMALL).run()
    g, b = good["trtr_vs_tstr"]["monai_classifier"], bad["trtr_vs_tstr"]["monai_classifier"]
    assert g["trtr"]["accuracy"]["mean"] > 0.9 and b["trtr"]["accuracy"]["mean"] > 0.9  # the same real classifier
    assert g["tstr"]["accuracy"]["mean"] > 0.9
    assert b["tstr"]["accuracy"]["mean"] < 0.2 and b["tstr"]["balanced_accuracy"]["mean"] < 0.2
    assert b["tstr_minus_trtr"]["accuracy"]["verdict"] == "hurts"
    assert good["conditional_fidelity"]["monai_classifier"]["score"]["mean"] > 0.9
    assert bad["conditional_fidelity"]["monai_classifier"]["score"]["mean"] < 0.1
    augmented = next(r for r in bad["settings"] if r["kind"] == "augmented")
    assert augmented["n_real"] == 24 and augmented["n_synthetic"] == 24  # 50% of 48 real, + 1x that
    assert augmented["difference"]["accuracy"]["value"] < 0  # wrong labels drag the mixed classifier down


def test_interrupted_study_continues_and_keeps_finished_cells(tmp_path: Path, real: Path, synthetic: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    out = tmp_path / "out"
    calls: list[str] = []
    original = study_module.run_cell

    def stop_after_two(cell, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(cell.key)
        return original(cell, *args, **kwargs)

    monkeypatch.setattr(study_module, "run_cell", stop_after_two)
    settings = {**SMALL, "seeds": [0, 1]}
    with pytest.raises(KeyboardInterrupt):
        UtilityStudy(synthetic, real, out, **settings).run()
    assert not (out / "metrics.json").exists() and not (out / "report.html").exists()  # nothing looks complete
    finished = sorted(p.name for p in (out / "cells").glob("*.json"))
    assert len(finished) == 2 and not list((out / "cells").glob(".*"))  # no temporary files left behind

    calls.clear()
    monkeypatch.setattr(study_module, "run_cell", lambda cell, *a, **k: calls.append(cell.key) or original(cell, *a, **k))
    first = UtilityStudy(synthetic, real, out, **settings).run()
    assert len(calls) == len(first["settings"]) * 2 - 2  # the two finished cells were not trained again
    assert first["complete"] and (out / "report.html").is_file()

    calls.clear()
    again = UtilityStudy(synthetic, real, out, **settings).run()
    assert calls == [] and again["settings"] == first["settings"]  # a finished study reruns in no training time

    changed = UtilityStudy(synthetic, real, out, **{**settings, "train_steps": 41}).run()
    assert len(calls) == len(first["settings"]) * 2  # another budget: every cell again, none mixed in
    assert changed["study"]["training"]["steps"] == 41


def test_cli_on_a_synthetic_folder_writes_metrics_and_report(tmp_path: Path, real: Path, synthetic: Path,
                                                            capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    out = tmp_path / "cli"
    argv = ["utility", str(synthetic), "--real", str(real), "--out", str(out), "--networks", "monai_classifier",
            "vgg11", "--real-fractions", "0.5", "--synthetic-multiples", "1", "--seeds", "0", "--train-steps", "20",
            "--batch-size", "16", "--bootstrap", "30", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "TRTR" in printed and "metrics.json" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] and metrics["synthetic_kind"] == "folder"
    assert set(metrics["trtr_vs_tstr"]) == {"monai_classifier", "vgg11"}
    assert metrics["n_real_train"] == 48 and metrics["n_real_test"] == 30 and metrics["n_synthetic_pool"] == 72
    report = (out / "report.html").read_text()
    assert "Augmentation curve" in report and "<svg" in report and "Conditional fidelity" in report
    for row in metrics["settings"]:
        for m in ("accuracy", "balanced_accuracy", "auroc"):
            lo, hi = row[m]["ci"]
            assert lo <= row[m]["mean"] <= hi
