"""report.json and report.html against figures computed here from the answers given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from monai_synth.cli import main
from monai_synth.turing.store import AnswerStore
from monai_synth.turing.study import create_study

sys.path.insert(0, str(Path(__file__).resolve().parent))
from turing_factory import check_rates, clopper_pearson, expected_counts, three_models  # noqa: E402


def _scripted_answers(study, rule) -> list[tuple[str, str, str, int]]:
    """Store answers chosen by ``rule(reader index, position, model)``; returns (reader name, trial, answer, likert)."""
    store = AnswerStore(study.root / "answers.sqlite")
    clicks = []
    for r, reader in enumerate(study.reader_ids):
        for position, step in enumerate(study.order(reader)):
            model = study.key["trials"][step["trial"]]["model"]
            answer, likert = rule(r, position, model)
            if answer is None:
                continue
            assert store.add(reader, step["trial"], position, answer, None, likert)
            clicks.append((study.reader_name(reader), step["trial"], answer, likert))
    return clicks


def test_real_fake_report_equals_hand_counts(tmp_path, capsys):
    real, fakes = three_models(tmp_path, n_real=6, n_fake=4)
    study = create_study(tmp_path / "study", real, fakes, n_real=6, n_fake=4, size=16, likert=True,
                         readers=["ann", "bob"])

    def rule(r, position, model):
        if r == 1 and position >= 15:
            return None, None  # bob stops early: 15 of 18
        fooled = {None: True, "A": position % 2 == 0, "B": position % 3 == 0, "C": False}[model]
        said_real = fooled if r == 0 else (model is None) != (position % 4 == 0)
        return ("real" if said_real else "fake"), (5 - position % 2 if model is None else 1 + position % 3)

    clicks = _scripted_answers(study, rule)
    fids = {"A": 12.5, "B": 30.0, "C": 61.0}
    argv = ["turing", "report", str(study.root), "--permutations", "500", "--alpha", "0.1", "--alpha", "0.05"]
    assert main([*argv, *(f"--fid={m}={v}" for m, v in fids.items())]) == 0
    assert "33 answers from 2 readers" in capsys.readouterr().out
    report = json.loads((study.root / "report" / "report.json").read_text())
    expected = expected_counts(study.key, [(who, trial, answer) for who, trial, answer, _ in clicks])
    for who in ("ann", "bob"):
        check_rates(report["readers"][who], expected[who])
    check_rates(report["pooled"], expected["pooled"])
    assert report["progress"] == {"ann": 18, "bob": 15}

    likert_real = [lk for _, t, _, lk in clicks if study.key["trials"][t]["model"] is None]
    likert_fake = [lk for _, t, _, lk in clicks if study.key["trials"][t]["model"] is not None]
    pooled_likert = report["pooled"]["likert"]
    assert pooled_likert["mean_real"] == pytest.approx(np.mean(likert_real))
    assert pooled_likert["mean_fake"] == pytest.approx(np.mean(likert_fake))
    assert pooled_likert["p"] < 0.01 and pooled_likert["significant"] == {"0.1": True, "0.05": True}

    # Fleiss' kappa with two readers is Scott's pi over the 15 trials both answered
    both = {}
    for who, trial, answer, _ in clicks:
        both.setdefault(trial, {})[who] = answer == "real"
    pairs = [(v["ann"], v["bob"]) for v in both.values() if len(v) == 2]
    agree = np.mean([a == b for a, b in pairs])
    p_real = np.mean([a for a, _ in pairs] + [b for _, b in pairs])
    chance = p_real**2 + (1 - p_real) ** 2
    assert report["agreement"]["trials"] == 15
    assert report["agreement"]["fleiss_kappa"] == pytest.approx((agree - chance) / (1 - chance))

    fpr = [expected["pooled"]["fooled"][m][0] / expected["pooled"]["fooled"][m][1] for m in "ABC"]
    correlation = report["fid_vs_fpr"]
    assert correlation["fpr"] == pytest.approx(fpr)
    assert correlation["r"] == pytest.approx(np.corrcoef([12.5, 30.0, 61.0], fpr)[0, 1])
    assert correlation["exact"] and 0 < correlation["p"] <= 1

    html = (study.root / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "Fleiss" in html and "ann" in html


def test_two_afc_report_and_binomial_test(tmp_path):
    real, fakes = three_models(tmp_path, n_real=12, n_fake=4)
    study = create_study(tmp_path / "study", real, fakes, mode="2afc", n_fake=4, size=16, readers=["ann", "bob"])
    store = AnswerStore(study.root / "answers.sqlite")
    correct = {}
    for r, reader in enumerate(study.reader_ids):
        for position, step in enumerate(study.order(reader)):
            trial = study.key["trials"][step["trial"]]
            pick_real = r == 0 or position % 3 == 0  # ann always right; bob right one time in three
            chosen = trial["real_image"] if pick_real else next(i for i in step["images"] if i != trial["real_image"])
            side = "left" if step["images"][0] == chosen else "right"
            store.add(reader, step["trial"], position, side, chosen, None)
            correct.setdefault(study.reader_name(reader), []).append(pick_real)
    assert main(["turing", "report", str(study.root), "--out", str(tmp_path / "out"), "--permutations", "200"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    from scipy.stats import binomtest

    for who, hits in correct.items():
        k, n = sum(hits), len(hits)
        block = report["readers"][who]
        assert (block["accuracy"]["k"], block["accuracy"]["n"]) == (k, n)
        assert (block["accuracy"]["low"], block["accuracy"]["high"]) == pytest.approx(clopper_pearson(k, n))
        assert block["binomial_p"] == pytest.approx(binomtest(k, n, 0.5).pvalue)
    assert report["readers"]["ann"]["binomial_p"] == pytest.approx(2 * 0.5**12)
    assert report["pooled"]["accuracy"]["k"] == 12 + 4
    assert (tmp_path / "out" / "report.html").is_file()


def test_report_refuses_unknown_model_fid(tmp_path, capsys):
    real, fakes = three_models(tmp_path)
    study = create_study(tmp_path / "study", real, {"A": fakes["A"]}, n_real=2, n_fake=2, size=16)
    assert main(["turing", "report", str(study.root), "--fid", "Z=3"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_report_without_answers(tmp_path):
    real, fakes = three_models(tmp_path)
    study = create_study(tmp_path / "study", real, fakes, n_real=2, n_fake=2, size=16, likert=True)
    assert main(["turing", "report", str(study.root), "--permutations", "100", "--fid", "A=1", "--fid", "B=2",
                 "--fid", "C=3"]) == 0
    report = json.loads((study.root / "report" / "report.json").read_text())
    assert report["pooled"]["rates"]["accuracy"]["value"] is None
    assert report["fid_vs_fpr"]["r"] is None and report["fid_vs_fpr"]["note"]
    assert report["agreement"]["fleiss_kappa"] is None
