"""Adaptive discriminator augmentation (ADA, Karras et al. 2020): a differentiable pipeline and its controller."""

from monai_synth.augment.pipeline import (
    AUGMENT_OPS,
    DEFAULT_AUGMENT_OPS,
    DEFAULT_STRENGTHS,
    AdaptiveAugmentPipeline,
)
from monai_synth.augment.probability import AdaptiveAugmentProbability

__all__ = [
    "AUGMENT_OPS",
    "DEFAULT_AUGMENT_OPS",
    "DEFAULT_STRENGTHS",
    "AdaptiveAugmentPipeline",
    "AdaptiveAugmentProbability",
]
