"""FID / KID / precision / recall of a StyleGAN2 run during training, and its best checkpoint by FID.

Wires the shared evaluation handlers (:class:`~monai_synth.handlers.metrics_handler.GenerativeFidelityHandler`
and :class:`~monai_synth.handlers.metrics_handler.BestFidCheckpoint`) into the engine of a ``StyleGAN2Trainer``
(a handler of its ``TrainingPhase``) from the bundle's ``evaluation`` settings::

    "evaluation": {"interval": 10, "interval_kimg": 0, "num_samples": 200, "batch_size": 50,
                   "truncation_psi": 1.0, "at_end": true}

``interval`` counts epochs, ``interval_kimg`` (when > 0, instead) thousands of real images; 0 for both turns the
evaluation off. ``at_end`` also scores the final weights when the last iteration is not on the interval.
Samples come from the EMA generator, balanced over the classes, with the same latents at every evaluation (so
the curve compares like with like); the reference is the training set. Only rank 0 evaluates; the values go
to ``engine.state.metrics``, TensorBoard (``fidelity/<name>``, step = iteration) and the run's
``metrics.json``; ``best_fid.pt`` (EMA generator + its config, readable by ``sample.json``) is replaced
atomically whenever FID improves.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from monai_synth.handlers.metrics_handler import BestFidCheckpoint, GenerativeFidelityHandler
from monai_synth.networks.stylegan2 import StyleGAN2Generator

logger = logging.getLogger(__name__)

BEST_FID_FILE = "best_fid.pt"
LATENT_SEED = 7_000_000


def is_enabled(settings: Mapping[str, Any] | None) -> bool:
    """Whether the ``evaluation`` settings ask for any evaluation."""
    if not settings:
        return False
    return int(settings.get("interval", 0) or 0) > 0 or float(settings.get("interval_kimg", 0) or 0) > 0


def balanced_sampler(
    generator: StyleGAN2Generator, num_samples: int, truncation_psi: float = 1.0, seed: int = LATENT_SEED
) -> Callable[[int], torch.Tensor]:
    """``sample_fn(n)`` for the fidelity handler: classes cycle, sample i has latent seed ``seed + i``.

    The counter wraps at ``num_samples``, so every evaluation draws the same images from the current weights.
    """
    produced = [0]

    def sample_fn(n: int) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [-1, 1], continuing the fixed sequence of latents."""
        first = produced[0] % num_samples
        produced[0] += n
        device = next(generator.parameters()).device
        indices = range(first, first + n)
        z = torch.stack([torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(seed + i))
                         for i in indices])  # fmt: skip
        labels = None
        if generator.num_classes > 0:
            labels = torch.tensor([i % generator.num_classes for i in indices], device=device)
        with torch.no_grad():
            images = generator(z.to(device), labels, truncation_psi=truncation_psi, noise_mode="const")
        return images.float().clamp(-1, 1).cpu()

    return sample_fn


def dataset_images(dataset: Any, limit: int) -> torch.Tensor:
    """The first ``limit`` training images (N, C, H, W) in [-1, 1], read through the dataset's transforms."""
    count = min(len(dataset), limit)
    return torch.stack([torch.as_tensor(dataset[i]["image"]).float() for i in range(count)])


def _previous_best(path: Path) -> float:
    """FID stored in an existing ``best_fid.pt`` (a resumed run only replaces it with a better one)."""
    if not path.is_file():
        return math.inf
    try:
        return float(torch.load(path, map_location="cpu", weights_only=True).get("fid", math.inf))
    except Exception:  # noqa: BLE001 - an unreadable file is simply replaced
        return math.inf


def _previous_history(path: Path) -> list[dict[str, float]]:
    """The fidelity curve already in the run's ``metrics.json`` (empty for a new run)."""
    if not path.is_file():
        return []
    try:
        return list(json.loads(path.read_text()).get("fidelity", []))
    except (ValueError, OSError):
        return []


class StyleGAN2FidelityMonitor:
    """Evaluate a StyleGAN2 run every ``interval`` epochs or ``interval_kimg`` kimg, keep the best by FID.

    Args:
        settings: the bundle's ``evaluation`` dict (keys in the module docstring).
        output_dir: the run folder (``best_fid.pt`` and ``metrics.json`` live there).
        trainer: the ``StyleGAN2Trainer`` (its ``step``, ``data_loader``, ``global_batch_size()``, ``phase.writer``
            and ``write_metrics()``).
    """

    def __init__(self, settings: Mapping[str, Any], output_dir: str | Path, trainer: Any) -> None:
        self.settings = dict(settings)
        self.output_dir = Path(output_dir)
        self.trainer = trainer
        self.num_samples = int(self.settings.get("num_samples", 200))
        self.history: list[dict[str, float]] = _previous_history(self.output_dir / "metrics.json")
        self._last_iteration = self.history[-1]["iteration"] if self.history else -1
        self.handler: GenerativeFidelityHandler | None = None
        self.best: BestFidCheckpoint | None = None

    def attach(self, engine: Engine) -> None:
        """Build the handlers from the trainer and register them on ``engine`` (the phase's engine)."""
        step = self.trainer.step
        psi = float(self.settings.get("truncation_psi", 1.0))
        sample_fn = balanced_sampler(step.generator_ema, self.num_samples, psi)
        real = dataset_images(self.trainer.data_loader.dataset, int(self.settings.get("max_real", 10_000)))
        self.handler = GenerativeFidelityHandler(
            sample_fn, real, num_samples=self.num_samples, interval=max(1, int(self.settings.get("interval", 0) or 1)),
            sample_batch_size=int(self.settings.get("batch_size", 50)),
            kid_subset_size=min(1000, self.num_samples, len(real)),
        )  # fmt: skip
        save = {"generator_ema": step.generator_ema, "generator_config": dict(step.generator.init_kwargs)}
        self.best = BestFidCheckpoint(save, self.output_dir, filename=BEST_FID_FILE)
        self.best.best = _previous_best(self.output_dir / BEST_FID_FILE)
        self.best.attach(engine)
        engine.add_event_handler(self._event(), self.evaluate)
        if self.settings.get("at_end", True):
            engine.add_event_handler(Events.COMPLETED, self.evaluate)

    def _event(self) -> Any:
        kimg = float(self.settings.get("interval_kimg", 0) or 0)
        if kimg > 0:
            every = max(1, math.ceil(kimg * 1000.0 / self.trainer.global_batch_size()))
            return Events.ITERATION_COMPLETED(every=every)
        return Events.EPOCH_COMPLETED(every=int(self.settings["interval"]))

    def evaluate(self, engine: Engine) -> None:
        """Score the current EMA generator (at most once per iteration); log, record, update ``best_fid.pt``."""
        if engine.state.iteration == self._last_iteration or self.handler is None:
            return
        self._last_iteration = engine.state.iteration
        self.handler(engine)  # fills state.metrics, fires FIDELITY_COMPLETED (-> best_fid.pt)
        keys = ("fid", "kid_mean", "kid_std", "precision", "recall")
        values = {k: float(engine.state.metrics[k]) for k in keys if k in engine.state.metrics}
        kimg = self.trainer.step.num_images / 1000.0
        self.history.append({"iteration": engine.state.iteration, "epoch": engine.state.epoch, "kimg": kimg, **values})
        writer = self.trainer.phase.writer if self.trainer.phase is not None else None
        if writer is not None:
            for key, value in values.items():
                writer.add_scalar(f"fidelity/{key}", value, engine.state.iteration)
            writer.flush()
        self.trainer.write_metrics(engine.state.iteration)  # the curve survives an interruption

    def summary(self) -> dict[str, Any]:
        """``fidelity`` (the curve), ``fidelity_at_end_of_training`` (last point) and ``best_fid`` for metrics.json."""
        out: dict[str, Any] = {"fidelity": list(self.history), "evaluation": dict(self.settings)}
        if self.history:
            out["fidelity_at_end_of_training"] = dict(self.history[-1])
            best = min(self.history, key=lambda h: h.get("fid", math.inf))
            out["best_fid"] = {**best, "checkpoint": str(self.output_dir / BEST_FID_FILE)}
        return out
