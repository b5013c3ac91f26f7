"""Adaptive augmentation probability: the ADA overfitting heuristic r_t = E[sign(D(real))].

Karras et al., "Training Generative Adversarial Networks with Limited Data" (NeurIPS 2020), section 3: the
sign of the discriminator's output on the real training images, averaged over the last N images, measures
overfitting (1 = fully overfitted, 0 = none). Every N images, p moves by sign(r_t - target) * N / (speed_kimg *
1000), clamped to [0, 1], so that p can go from 0 to 1 in ``speed_kimg`` thousand images (500k in the paper).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from monai_synth.augment.pipeline import AdaptiveAugmentPipeline

logger = logging.getLogger(__name__)


class AdaptiveAugmentProbability:
    """Adjust ``pipeline.p`` towards the target overfitting level every ``interval_images`` real images.

    Args:
        pipeline: the augmentation whose probability ``p`` is adjusted.
        target: target value of r_t (0.6 in the paper); None measures r_t but keeps p fixed.
        interval_images: real images between two adjustments (the paper: 4 iterations of batch 64 = 256).
        speed_kimg: thousands of images over which p could go from 0 to 1 (500 in the paper).

    Example:
        >>> ada = AdaptiveAugmentProbability(AdaptiveAugmentPipeline(), target=0.6)
        >>> r_t = ada.update(real_logits)  # after each discriminator step; None until an interval ends
    """

    def __init__(
        self,
        pipeline: AdaptiveAugmentPipeline,
        target: float | None = 0.6,
        interval_images: int = 256,
        speed_kimg: float = 500.0,
    ) -> None:
        if target is not None and (not isinstance(target, (int, float)) or not 0.0 <= target <= 1.0):
            raise ValueError(f"target must be in [0, 1], got {target}.")
        if interval_images < 1 or speed_kimg <= 0:
            raise ValueError(f"need interval_images >= 1 and speed_kimg > 0, got {interval_images}, {speed_kimg}.")
        self.pipeline = pipeline
        self.target = target
        self.interval_images = interval_images
        self.speed_kimg = speed_kimg
        self.sign_sum = 0.0
        self.count = 0
        self.last_rt: float | None = None

    @property
    def p(self) -> float:
        """Current augmentation probability."""
        return float(self.pipeline.p)

    def update(self, real_logits: torch.Tensor) -> float | None:
        """Accumulate sign(D(real)) of one batch; adjust p when an interval ends and return that r_t."""
        signs = torch.sign(real_logits.detach().float())
        self.sign_sum += float(signs.sum())
        self.count += signs.numel()
        if self.count < self.interval_images:
            return None
        r_t, images = self.sign_sum / self.count, self.count
        self.sign_sum, self.count, self.last_rt = 0.0, 0, r_t
        if self.target is None:
            return r_t
        step = float((r_t > self.target) - (r_t < self.target)) * images / (self.speed_kimg * 1000.0)
        self.pipeline.p.fill_(min(max(self.p + step, 0.0), 1.0))
        logger.debug("ADA: r_t=%.3f -> p=%.4f", r_t, self.p)
        return r_t

    def state_dict(self) -> dict[str, Any]:
        """Accumulators and last r_t (p itself lives in the pipeline's state dict)."""
        return {"sign_sum": self.sign_sum, "count": self.count, "last_rt": self.last_rt, "p": self.p}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore accumulators and p."""
        self.sign_sum, self.count, self.last_rt = float(state["sign_sum"]), int(state["count"]), state["last_rt"]
        self.pipeline.p.fill_(float(state["p"]))
