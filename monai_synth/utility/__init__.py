"""Downstream utility studies: does a generator's synthetic data help a classifier tested on real images?

:class:`UtilityStudy` (``monai-synth utility``, ``bundles/<model>/utility.json``) opens a Medfusion or
StyleGAN2-ADA run folder or exported bundle (:mod:`.generators`), or reads a folder of labelled synthetic
images, and runs TRTR against TSTR, the augmentation curve and conditional fidelity with the metrics of
:mod:`monai_synth.metrics.utility`. Like :mod:`monai_synth.comparison`, it sits above the engines and the
export package it loads models with. Guide: ``docs/utility.md``.
"""

from monai_synth.utility.study import UtilityStudy

__all__ = ["UtilityStudy"]
