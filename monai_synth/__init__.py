"""monai_synth: generative models for 2D medical images as MONAI Bundles."""

__version__ = "0.1.0"
