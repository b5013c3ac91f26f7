"""StyleGAN2-ADA: the GAN baseline with adaptive discriminator augmentation and transfer learning.

- ``step``: one training iteration; ``trainer``: the run on the shared ``TrainingPhase``;
- ``grids``: sample grids and previews; ``sample_writer``: samples of a trained generator;
- ``distributed``: rank helpers for multi-process training; ``evaluation``: FID during training.
"""

from monai_synth.engines.stylegan2.sample_writer import StyleGAN2SampleWriter
from monai_synth.engines.stylegan2.step import StyleGAN2Step
from monai_synth.engines.stylegan2.trainer import StyleGAN2Trainer, count_classes

__all__ = ["StyleGAN2SampleWriter", "StyleGAN2Step", "StyleGAN2Trainer", "count_classes"]
