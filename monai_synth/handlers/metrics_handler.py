"""Ignite handlers that score a generator during training and keep its best checkpoint by FID.

- :class:`GenerativeFidelityHandler`: every ``interval`` epochs, draws ``num_samples`` images from a
  user-supplied ``sample_fn(n) -> images in [-1, 1]`` (e.g. sampling from the EMA model), extracts
  Inception features and computes FID, KID, precision and recall against cached real features
  (:func:`monai_synth.metrics.fidelity.fidelity_metrics`); stores them in ``engine.state.metrics``, writes
  them to TensorBoard when a ``SummaryWriter`` is given, then fires ``FidelityEvents.FIDELITY_COMPLETED``.
- :class:`BestFidCheckpoint`: on that event, saves a dict of state dicts atomically to
  ``<output_dir>/best_fid.pt`` whenever FID improves (loadable with ``torch.load(weights_only=True)``).

Example::

    writer = SummaryWriter("runs/medfusion")
    fidelity = GenerativeFidelityHandler(sample_fn, real="data/train_pngs", num_samples=1000, interval=5,
                                         summary_writer=writer)
    fidelity.attach(trainer)
    BestFidCheckpoint({"unet": ema_unet, "vae": vae}, "runs/medfusion").attach(trainer)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, EventEnum, Events

from monai_synth.io.atomic import atomic_open
from monai_synth.metrics.feature_cache import cached_features
from monai_synth.metrics.features import InceptionFeatureExtractor
from monai_synth.metrics.fidelity import fidelity_metrics
from monai_synth.metrics.image_sets import load_image_set

__all__ = ["FidelityEvents", "GenerativeFidelityHandler", "BestFidCheckpoint"]

logger = logging.getLogger(__name__)


class FidelityEvents(EventEnum):
    """Fired by :class:`GenerativeFidelityHandler` once the metrics of an evaluation are in ``state.metrics``."""

    FIDELITY_COMPLETED = "fidelity_completed"


def _register(engine: Engine) -> None:
    if not engine.has_registered_events(FidelityEvents.FIDELITY_COMPLETED):
        engine.register_events(*FidelityEvents)


class GenerativeFidelityHandler:
    """Periodic FID / KID / precision / recall of generated samples against real features.

    Args:
        sample_fn: ``sample_fn(n)`` returns ``n`` images ``(n, C, H, W)`` in ``[-1, 1]``.
        real: real features ``(N, 2048)`` (array or ``.npy`` path), or real images (tensor ``(N, C, H, W)`` in
            ``[-1, 1]``, or any data-layer source path), featurised once through the on-disk cache.
        num_samples: generated images per evaluation.
        interval: evaluate every ``interval`` epochs.
        sample_batch_size: images requested from ``sample_fn`` per call.
        extractor: feature extractor (default: a new :class:`InceptionFeatureExtractor`, without progress bar).
        summary_writer: TensorBoard ``SummaryWriter`` (optional).
        prefix: prefix of the metric names in ``state.metrics`` and TensorBoard tags.
        kid_subset_size: KID subset size (reduced to the smaller set when needed).
        kid_subsets: number of KID subsets.
        real_split: split of a real data source.
        cache_dir: real-feature cache folder (``None``: the default cache).
    """

    def __init__(
        self,
        sample_fn: Callable[[int], torch.Tensor],
        real: np.ndarray | torch.Tensor | str | os.PathLike,
        num_samples: int = 1000,
        interval: int = 1,
        sample_batch_size: int = 64,
        extractor: InceptionFeatureExtractor | None = None,
        summary_writer: Any = None,
        prefix: str = "",
        kid_subset_size: int = 1000,
        kid_subsets: int = 100,
        real_split: str | None = "train",
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if num_samples < 4 or interval < 1 or sample_batch_size < 1:
            raise ValueError(f"need num_samples >= 4, interval >= 1, sample_batch_size >= 1; got "
                             f"{num_samples}, {interval}, {sample_batch_size}")  # fmt: skip
        self.sample_fn = sample_fn
        self.real = real
        self.num_samples = num_samples
        self.interval = interval
        self.sample_batch_size = sample_batch_size
        self.extractor = extractor
        self.summary_writer = summary_writer
        self.prefix = prefix
        self.kid_subset_size = kid_subset_size
        self.kid_subsets = kid_subsets
        self.real_split = real_split
        self.cache_dir = cache_dir
        self._real_features: np.ndarray | None = None

    def attach(self, engine: Engine) -> None:
        """Run every ``interval`` epochs on ``engine`` (and register :class:`FidelityEvents`)."""
        _register(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.interval), self)

    def _extractor(self) -> InceptionFeatureExtractor:
        if self.extractor is None:
            self.extractor = InceptionFeatureExtractor(progress=False)
        return self.extractor

    def real_features(self) -> np.ndarray:
        """The real features, computed (or read from the cache) on first use."""
        if self._real_features is None:
            real = self.real
            if isinstance(real, (str, os.PathLike)) and str(real).endswith(".npy"):
                self._real_features = np.load(real, allow_pickle=False)
            elif isinstance(real, (np.ndarray, torch.Tensor)) and np.ndim(real) == 2:
                self._real_features = np.asarray(real, dtype=np.float32)
            else:
                images = load_image_set(real, split=self.real_split, name="real")
                self._real_features = cached_features(lambda: iter(images), self._extractor(), self.cache_dir)
        return self._real_features

    def _generated_features(self) -> np.ndarray:
        chunks, remaining = [], self.num_samples
        while remaining > 0:
            count = min(self.sample_batch_size, remaining)
            with torch.no_grad():
                images = self.sample_fn(count)
            chunks.append(self._extractor().features(images.detach().float().cpu()))
            remaining -= count
        return np.concatenate(chunks)

    def compute(self) -> dict[str, float]:
        """Draw samples and return FID, KID (mean, std), precision and recall (no engine needed)."""
        fake = self._generated_features()
        values = fidelity_metrics(self.real_features(), fake, self.kid_subset_size, self.kid_subsets)
        return {key: float(value) for key, value in values.items() if key != "kid_subset_size"}

    def __call__(self, engine: Engine) -> None:
        values = self.compute()
        epoch = engine.state.epoch
        for key, value in values.items():
            engine.state.metrics[f"{self.prefix}{key}"] = value
            if self.summary_writer is not None:
                self.summary_writer.add_scalar(f"{self.prefix}{key}", value, epoch)
        logger.info("epoch %d: %s", epoch, ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
        engine.fire_event(FidelityEvents.FIDELITY_COMPLETED)


class BestFidCheckpoint:
    """Save state dicts to ``<output_dir>/best_fid.pt`` whenever the FID in ``state.metrics`` improves.

    The file holds ``{name: obj.state_dict() (or obj), ..., "fid": float, "epoch": int}`` and is replaced
    atomically. Attach it to the engine that runs :class:`GenerativeFidelityHandler` (before or after it).

    Args:
        save_dict: objects to save, e.g. ``{"unet": model, "ema": ema_model, "optimizer": optimizer}``.
        output_dir: folder of the checkpoint.
        metric_name: key of FID in ``state.metrics`` (include the fidelity handler's prefix).
        filename: checkpoint file name.
    """

    def __init__(
        self,
        save_dict: Mapping[str, Any],
        output_dir: str | os.PathLike,
        metric_name: str = "fid",
        filename: str = "best_fid.pt",
    ) -> None:
        self.save_dict = dict(save_dict)
        self.path = Path(output_dir) / filename
        self.metric_name = metric_name
        self.best = math.inf

    def attach(self, engine: Engine) -> None:
        """Listen for ``FidelityEvents.FIDELITY_COMPLETED`` on ``engine``."""
        _register(engine)
        engine.add_event_handler(FidelityEvents.FIDELITY_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        value = engine.state.metrics.get(self.metric_name)
        if value is None or not math.isfinite(value) or value >= self.best:
            return
        self.best = float(value)
        payload = {k: v.state_dict() if hasattr(v, "state_dict") else v for k, v in self.save_dict.items()}
        payload.update(fid=self.best, epoch=int(engine.state.epoch))
        with atomic_open(self.path) as handle:
            torch.save(payload, handle)
        logger.info("epoch %d: best %s %.4g, saved %s", engine.state.epoch, self.metric_name, self.best, self.path)
