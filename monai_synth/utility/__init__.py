"""Downstream utility studies: does a generator's synthetic data help a classifier tested on real images?

:class:`UtilityStudy` (``monai-synth utility``, ``bundles/<model>/utility.json``) opens a Medfusion or
StyleGAN2-ADA run folder or exported bundle (:mod:`.generators`), or reads a folder of labelled synthetic
images, and runs TRTR against TSTR, the augmentation curve and conditional fidelity with the metrics of
:mod:`monai_synth.metrics.utility`. Like :mod:`monai_synth.comparison`, it sits above the engines and the
export package it loads models with. Guide: ``docs/utility.md``.

:class:`SegmentationUtilityStudy` (:mod:`.segmentation_study`; ``monai-synth utility`` on a Med-cDiff model,
``bundles/med_cdiff/utility.json``) asks the same of a restorer: a DynUNet trained on restored images against one
trained on the real (and on the degraded) images, Dice and HD95 on real test images.
"""

from monai_synth.utility.segmentation_study import SegmentationUtilityStudy
from monai_synth.utility.study import UtilityStudy

__all__ = ["SegmentationUtilityStudy", "UtilityStudy"]
