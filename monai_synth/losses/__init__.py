"""Losses as small callables: denoising (epsilon / v / velocity targets), autoencoder, adversarial."""

from monai_synth.losses.denoising import PREDICTIONS, DenoisingLoss

__all__ = ["DenoisingLoss", "PREDICTIONS"]
