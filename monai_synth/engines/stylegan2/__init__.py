"""StyleGAN2-ADA: the GAN baseline with adaptive discriminator augmentation and transfer learning.

- ``trainer``: the training step, the trainer and the sample writer;
- ``distributed``: rank helpers for multi-process training; ``evaluation``: FID during training.
"""

from monai_synth.engines.stylegan2.trainer import StyleGAN2SampleWriter, StyleGAN2Step, StyleGAN2Trainer, count_classes

__all__ = ["StyleGAN2SampleWriter", "StyleGAN2Step", "StyleGAN2Trainer", "count_classes"]
