"""Medfusion: class-conditional latent diffusion (VAE + latent UNet), after Mueller-Franzes et al.

- ``workflow``: the two training phases (autoencoder, latent diffusion) and ``load_medfusion``;
- ``steps``: one optimisation step of each phase;
- ``sampling``: noise -> latent sampler -> decoder; ``sample``: the ``sample.json`` writer;
- ``report``: the end-of-training grids, loss curves and ``metrics.json``.
"""

from monai_synth.engines.medfusion.workflow import MedfusionWorkflow, load_medfusion, normalise_latents

__all__ = ["MedfusionWorkflow", "load_medfusion", "normalise_latents"]
