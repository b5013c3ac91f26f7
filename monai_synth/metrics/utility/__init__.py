"""Downstream utility of synthetic images: the metrics and the parts of a study that need no trained generator.

- :mod:`.scores`: accuracy, balanced accuracy and macro AUROC with bootstrap intervals over test images (pure);
- :mod:`.conditional`: conditional fidelity (a classifier trained on real images labels the synthetic ones);
- :mod:`.plan`: settings (real share x synthetic multiple, TSTR) and cells (setting x seed);
- :mod:`.classifiers`, :mod:`.cell`: train and test one classifier per cell;
- :mod:`.inputs`, :mod:`.pool`: real splits, a folder of synthetic images, a generator's pool of images;
- :mod:`.store`, :mod:`.summary`, :mod:`.report`: finished cells on disk, figures per setting, ``report.html``.
- :mod:`.segmentation`, :mod:`.segmentation_report`: Dice and HD95 per image and structure, their summary over
  seeds with bootstrap intervals, and the report of the segmentation utility of restored images.

The study that opens run folders and bundles and runs all of it is ``monai_synth.utility.UtilityStudy``
(``monai-synth utility``, ``bundles/*/utility.json``); it sits above the engines, which this package may not
import. Definitions and measured figures: ``docs/utility.md``.
"""

from monai_synth.metrics.utility.conditional import classifier_conditional_fidelity, conditional_fidelity
from monai_synth.metrics.utility.scores import METRICS, classification_scores, paired_difference

__all__ = ["METRICS", "classification_scores", "classifier_conditional_fidelity", "conditional_fidelity",
           "paired_difference"]
