"""Score a folder of generated samples against a real reference set with ``monai_synth.metrics.evaluate``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from monai_synth.engines.image_tensors import ImageTensorSet, load_image_tensors
from monai_synth.metrics.evaluate import evaluate
from monai_synth.metrics.features import InceptionFeatureExtractor

SCORE_KEYS = ("fid", "fid_ci", "kid_mean", "kid_std", "precision", "recall", "n_real", "n_fake")
PHANTOM_REFERENCE_SEED = 1000


def reference_images(
    dataset: str | None, image_size: int, channels: int, split: str, phantom_count: int, seed: int
) -> ImageTensorSet:
    """The real reference at the training size and intensity scaling (phantom: a fresh set, another seed)."""
    if not dataset:
        return load_image_tensors(None, image_size, channels, phantom_count=phantom_count,
                                  seed=seed + PHANTOM_REFERENCE_SEED)  # fmt: skip
    return load_image_tensors(dataset, image_size, channels, split=split)


def make_extractor(device: str | None) -> Any:
    """One Inception feature extractor shared by every model of a comparison."""
    return InceptionFeatureExtractor(device=device, progress=False)


def score_samples(
    real: ImageTensorSet, samples_dir: Path, out_dir: Path, extractor: Any, bootstrap: int = 50, seed: int = 0
) -> dict[str, Any]:
    """FID (with bootstrap interval), KID, precision and recall of ``samples_dir``; full report in ``out_dir``."""
    metrics = evaluate(
        real.images, samples_dir, out_dir, labels_real=real.labels.tolist(), extractor=extractor,
        cache_dir=out_dir.parent.parent / "feature_cache", num_bootstrap=bootstrap, seed=seed, progress=False,
    )  # fmt: skip
    return {key: metrics.get(key) for key in SCORE_KEYS}


def all_finite(row: dict[str, Any], keys: tuple[str, ...] = ("fid", "kid_mean", "precision", "recall")) -> bool:
    """Whether the main scores of a table row are finite numbers."""
    return all(isinstance(row.get(k), (int, float)) and math.isfinite(row[k]) for k in keys)
