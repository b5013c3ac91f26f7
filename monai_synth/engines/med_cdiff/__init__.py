"""Med-cDiff: conditional image-to-image diffusion (super-resolution, denoising, inpainting) and its GAN baselines.

- ``workflow``: training of the diffusion model, pix2pix or SRGAN; ``steps``: their optimisation steps;
- ``restorer``: trained networks -> restored images; ``infer``: restoring folders, NIfTI and DICOM series;
- ``evaluation``: the paper's tables on held-out images; ``report``: the end-of-training figures.
"""

from monai_synth.engines.med_cdiff.restorer import InterpolationRestorer, Restorer, load_restorer
from monai_synth.engines.med_cdiff.workflow import MedCDiffWorkflow

__all__ = ["InterpolationRestorer", "MedCDiffWorkflow", "Restorer", "load_restorer"]
