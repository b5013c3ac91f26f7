"""Evaluation of synthetic images: fidelity (FID, KID, precision/recall), diversity (MS-SSIM) and
restoration quality (PSNR, SSIM, MS-SSIM, acutance, LPIPS).

Pure functions over features or image tensors first; the Inception feature extractor and its cache;
then ``monai_synth.metrics.evaluate.evaluate`` (``metrics.json`` + ``report.html``; not re-exported here,
so that the dotted path ``monai_synth.metrics.evaluate`` always names the module). Training-time handlers live in
:mod:`monai_synth.handlers.metrics_handler`. Definitions and measured figures: ``docs/evaluation.md``.
"""

from monai_synth.metrics.bootstrap import bootstrap_ci, fid_ci, mean_ci
from monai_synth.metrics.diversity import mean_pairwise_ms_ssim, pairwise_ms_ssim
from monai_synth.metrics.feature_cache import FeatureCache, cached_features, content_key
from monai_synth.metrics.features import InceptionFeatureExtractor
from monai_synth.metrics.fidelity import fidelity_intervals, fidelity_metrics, per_class_metrics
from monai_synth.metrics.frechet import feature_statistics, fid_from_features, frechet_distance
from monai_synth.metrics.inception_net import load_inception
from monai_synth.metrics.kid import kernel_inception_distance
from monai_synth.metrics.lpips import LpipsWeightsError, lpips_distance
from monai_synth.metrics.precision_recall import improved_precision_recall
from monai_synth.metrics.restoration import acutance, psnr, restoration_metrics
from monai_synth.metrics.ssim import ms_ssim_pairs, ssim_pairs
from monai_synth.metrics.weights import InceptionWeightsError, resolve_inception_weights

__all__ = [
    "FeatureCache",
    "InceptionFeatureExtractor",
    "InceptionWeightsError",
    "LpipsWeightsError",
    "acutance",
    "bootstrap_ci",
    "cached_features",
    "content_key",
    "feature_statistics",
    "fid_ci",
    "fid_from_features",
    "fidelity_intervals",
    "fidelity_metrics",
    "frechet_distance",
    "improved_precision_recall",
    "kernel_inception_distance",
    "load_inception",
    "lpips_distance",
    "mean_ci",
    "mean_pairwise_ms_ssim",
    "ms_ssim_pairs",
    "pairwise_ms_ssim",
    "per_class_metrics",
    "psnr",
    "resolve_inception_weights",
    "restoration_metrics",
    "ssim_pairs",
]
