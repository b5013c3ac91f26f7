"""Interrupting and rerunning continues where the audit stopped, and nothing half-written looks complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import StubExtractor, phantoms, write_pngs

import monai_synth.privacy.audit as audit_module
from monai_synth.privacy.audit import OUTPUT_FILES, MemorizationAudit


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("case")
    train = phantoms(range(12))
    write_pngs(train, root / "train")
    write_pngs(phantoms(range(100, 112)), root / "holdout")
    write_pngs((train + 0.05 * torch.randn(train.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1),
               root / "synthetic")
    return root


def make(case: Path, out: Path, extractor: StubExtractor, **settings) -> MemorizationAudit:
    return MemorizationAudit(case / "synthetic", out, train=str(case / "train"), holdout=str(case / "holdout"),
                             num_bootstrap=20, cache_dir=out.parent / "cache", extractor=extractor, progress=False,
                             **settings)


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob("*.part"))


def test_interrupted_audit_leaves_no_results_and_continues(case: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    first = StubExtractor()
    real = audit_module.MemorizationAudit._measures
    calls = []

    def interrupted(self, space, *vectors):
        calls.append(space)
        if space == "inception":  # features of every set are done by now
            raise KeyboardInterrupt
        return real(self, space, *vectors)

    monkeypatch.setattr(audit_module.MemorizationAudit, "_measures", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make(case, out, first).run()
    assert first.images_seen == 36 and calls == ["pixel", "inception"]
    assert not any((out / name).exists() for name in OUTPUT_FILES) and not leftovers(out)

    monkeypatch.setattr(audit_module.MemorizationAudit, "_measures", real)
    second = StubExtractor()
    result = make(case, out, second).run()
    assert second.images_seen == 0  # real features from the shared cache, synthetic ones from work/
    assert all((out / name).is_file() for name in OUTPUT_FILES) and not leftovers(out)
    assert json.loads((out / "audit.json").read_text())["verdicts"] == result["verdicts"]


def test_failure_while_writing_the_report_leaves_no_audit_json(case: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    make(case, out, StubExtractor(), spaces=["pixel"]).run()
    assert (out / "audit.json").is_file()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit_module, "render_audit_report", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        make(case, out, StubExtractor(), spaces=["pixel"], percentile=90.0).run()
    # the earlier audit's files were removed when this one started: no result of other settings looks current
    assert not (out / "audit.json").exists() and not (out / "report.html").exists() and not leftovers(out)


def test_changed_settings_recompute_what_they_change(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    make(case, out, StubExtractor(), spaces=["self_supervised"], self_supervised={"epochs": 1, "size": 32}).run()
    encoders = sorted((out / "work").glob("self-supervised-encoder-*.pt"))
    make(case, out, StubExtractor(), spaces=["self_supervised"], self_supervised={"epochs": 1, "size": 32}).run()
    assert sorted((out / "work").glob("self-supervised-encoder-*.pt")) == encoders  # reused
    make(case, out, StubExtractor(), spaces=["self_supervised"], self_supervised={"epochs": 2, "size": 32}).run()
    assert len(list((out / "work").glob("self-supervised-encoder-*.pt"))) == 1
    assert sorted((out / "work").glob("self-supervised-encoder-*.pt")) != encoders  # retrained, old one dropped


def test_sampling_resumes_by_class(tiny_medfusion: Path, tmp_path: Path, monkeypatch) -> None:
    import monai_synth.engines.medfusion.sample as sample_module

    real = sample_module.sample_to_folder
    calls = []

    def interrupted(pipeline, output_dir, **kwargs):
        calls.append(kwargs["class_label"])
        if kwargs["class_label"] == 1:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            (Path(output_dir) / "half.png").write_bytes(b"\x89PNG half")  # what a crash may leave
            raise KeyboardInterrupt
        return real(pipeline, output_dir, **kwargs)

    settings = dict(num_samples=6, sample={"steps": 2}, spaces=["pixel"], membership={"enabled": False},
                    num_bootstrap=20, progress=False)
    out = tmp_path / "out"
    monkeypatch.setattr(sample_module, "sample_to_folder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        MemorizationAudit(tiny_medfusion, out, **settings).run()
    first_class = sorted((out / "synthetic" / "class_000").glob("*.png"))
    stamps = [p.stat().st_mtime_ns for p in first_class]
    assert len(first_class) == 3 and (out / "synthetic" / "class_000" / ".complete").is_file()
    assert not (out / "synthetic" / "class_001" / ".complete").exists() and not (out / "audit.json").exists()

    def counted(pipeline, output_dir, **kwargs):
        calls.append(kwargs["class_label"])
        return real(pipeline, output_dir, **kwargs)

    calls.clear()
    monkeypatch.setattr(sample_module, "sample_to_folder", counted)
    result = MemorizationAudit(tiny_medfusion, out, **settings).run()
    assert calls == [1] and [p.stat().st_mtime_ns for p in first_class] == stamps
    assert result["n_synthetic"] == 6 and not (out / "synthetic" / "class_001" / "half.png").exists()

    calls.clear()
    MemorizationAudit(tiny_medfusion, out, **{**settings, "num_samples": 4}).run()  # other plan: sampled afresh
    assert calls == [0, 1] and len(list((out / "synthetic").rglob("*.png"))) == 4
