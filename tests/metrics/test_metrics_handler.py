"""Training-time fidelity handler and best-FID checkpoint on a tiny Ignite engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import StubExtractor, make_images
from ignite.engine import Engine

from monai_synth.handlers.metrics_handler import BestFidCheckpoint, FidelityEvents, GenerativeFidelityHandler


class _Writer:
    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))


def _sampler(quality: list[float]):
    """Samples that move towards the real images as training proceeds (quality[0] in [0, 1])."""
    real = make_images(64, 16, seed=0)
    noise = make_images(64, 16, seed=1)

    def sample_fn(n: int) -> torch.Tensor:
        q = quality[0]
        return (q * real[:n] + (1 - q) * noise[:n]).clamp(-1, 1)

    return real, sample_fn


def test_handler_logs_metrics_and_keeps_best_checkpoint(tmp_path: Path) -> None:
    quality = [0.0]
    real, sample_fn = _sampler(quality)
    model = torch.nn.Linear(2, 2)
    engine = Engine(lambda e, b: quality.__setitem__(0, [0.2, 0.9, 0.5][e.state.epoch - 1]))
    writer = _Writer()
    handler = GenerativeFidelityHandler(sample_fn, real, num_samples=40, interval=1, sample_batch_size=16,
                                        extractor=StubExtractor(), summary_writer=writer, kid_subsets=3,
                                        cache_dir=tmp_path / "cache")  # fmt: skip
    best = BestFidCheckpoint({"model": model, "note": torch.tensor(3)}, tmp_path / "run")
    best.attach(engine)  # order does not matter: it listens to FIDELITY_COMPLETED
    handler.attach(engine)
    seen = []
    engine.add_event_handler(FidelityEvents.FIDELITY_COMPLETED, lambda e: seen.append(e.state.metrics["fid"]))
    engine.run([0], max_epochs=3)

    assert set(engine.state.metrics) >= {"fid", "kid_mean", "kid_std", "precision", "recall"}
    assert len(seen) == 3 and seen[1] < seen[0] and seen[1] < seen[2]
    assert {tag for tag, _, _ in writer.scalars} >= {"fid", "kid_mean", "precision", "recall"}
    assert sorted({step for _, _, step in writer.scalars}) == [1, 2, 3]
    saved = torch.load(tmp_path / "run" / "best_fid.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["fid"] == pytest.approx(seen[1]) and saved["note"].item() == 3
    assert set(saved["model"]) == {"weight", "bias"}
    assert not list((tmp_path / "run").glob(".*.part"))


def test_handler_interval_and_real_feature_forms(tmp_path: Path) -> None:
    quality = [0.5]
    real, sample_fn = _sampler(quality)
    stub = StubExtractor()
    feats = stub.features(real)
    np.save(tmp_path / "real.npy", feats)
    for given in (feats, str(tmp_path / "real.npy")):
        handler = GenerativeFidelityHandler(sample_fn, given, num_samples=8, interval=2, extractor=stub, kid_subsets=2)
        engine = Engine(lambda e, b: None)
        handler.attach(engine)
        engine.run([0], max_epochs=3)
        assert "fid" in engine.state.metrics
        np.testing.assert_array_equal(handler.real_features(), feats)
    calls = stub.calls
    handler.compute()  # usable without an engine
    assert stub.calls == calls + 1
    with pytest.raises(ValueError):
        GenerativeFidelityHandler(sample_fn, feats, num_samples=2)
