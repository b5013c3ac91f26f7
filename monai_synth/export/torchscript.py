"""Which exported networks compile to TorchScript (``python -m monai.bundle ckpt_export``), and why not.

Checked with ``torch.jit.script`` on torch 2.13 / MONAI 1.6.1; ``tests/export`` pins each answer, so a change in
either library that makes a network script (or stop scripting) fails a test and this table is updated.
"""

from __future__ import annotations

__all__ = ["torchscript_status"]

_UNET = ("No: MONAI's DiffusionModelUNet does not compile with torch.jit.script (its attention block, "
         "monai/networks/blocks/spatialattention.py, builds a list whose size TorchScript cannot infer). "
         "Use models/model.pt with network_def instead.")


def torchscript_status(kind: str, model: str | None = None) -> tuple[bool, str]:
    """(whether ``ckpt_export`` of ``network_def`` produces a TorchScript file, a sentence saying so and why)."""
    if kind == "stylegan2_ada":
        return False, ("No: the StyleGAN2 generator's modulated convolution and noise inputs use Python values and "
                       "keyword arguments that torch.jit.script cannot compile (monai_synth/networks/"
                       "stylegan2_layers.py). Use models/model.pt with network_def instead.")
    if kind == "med_cdiff" and model in ("pix2pix", "srgan"):
        return True, ("Yes: `python -m monai.bundle ckpt_export` writes models/model.ts (the generator, "
                      "torch.jit.script).")
    return False, _UNET
