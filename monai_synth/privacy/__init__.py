"""Memorization and privacy audit of synthetic images (``monai-synth audit``; ``bundles/*/audit.json``).

Pure measures first, one idea per module:

- :mod:`~monai_synth.privacy.neighbours`: unit vectors (pixel Pearson, feature cosine) and batched nearest
  neighbours;
- :mod:`~monai_synth.privacy.copy_threshold`: the copy threshold calibrated on hold-out images, the share of
  synthetic images above it with a bootstrap interval;
- :mod:`~monai_synth.privacy.distance_to_record`: DCR and NNDR against the hold-out baseline;
- :mod:`~monai_synth.privacy.membership`: the loss-threshold membership attack (ROC, AUC, TPR at low FPR);
- :mod:`~monai_synth.privacy.diffusion_loss`: Medfusion's per-image denoising loss at fixed timesteps;
- :mod:`~monai_synth.privacy.contrastive`: a self-supervised encoder trained on the training set;

then what the audit reads (:mod:`~monai_synth.privacy.sources`, :mod:`~monai_synth.privacy.synthetic_set`,
:mod:`~monai_synth.privacy.sampling`), its work folder, verdicts and report, and the audit itself
(:class:`monai_synth.privacy.audit.MemorizationAudit`, not re-exported here so that the dotted path names the
module). Definitions and verdict rules: ``docs/audit.md``.
"""

from monai_synth.privacy.copy_threshold import calibrated_threshold, copy_rate, share_above
from monai_synth.privacy.distance_to_record import compare_to_holdout, distance_ratio
from monai_synth.privacy.membership import loss_threshold_attack, roc_auc, roc_curve, tpr_at_fpr
from monai_synth.privacy.neighbours import (
    Neighbours,
    distance_from_similarity,
    nearest_neighbours,
    pixel_vectors,
    unit_rows,
)

__all__ = [
    "Neighbours",
    "calibrated_threshold",
    "compare_to_holdout",
    "copy_rate",
    "distance_from_similarity",
    "distance_ratio",
    "loss_threshold_attack",
    "nearest_neighbours",
    "pixel_vectors",
    "roc_auc",
    "roc_curve",
    "share_above",
    "tpr_at_fpr",
    "unit_rows",
]
