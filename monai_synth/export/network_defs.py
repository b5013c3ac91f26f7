"""The ``network_def`` (and ``autoencoder_def``) entries of an exported config: full dotted ``_target_`` plus the
exact keyword arguments the training built the network with, so ``monai.bundle.load`` and ``ckpt_export`` build
the trained network from the config alone."""

from __future__ import annotations

from typing import Any

from monai_synth.export.run_folder import TrainedRun

__all__ = ["network_definitions"]


def network_definitions(run: TrainedRun) -> dict[str, dict[str, Any]]:
    """Config entries by id: ``network_def`` always, ``autoencoder_def`` for Medfusion."""
    s = run.settings
    if run.kind == "medfusion":
        return {"network_def": dict(s["unet_def"]), "autoencoder_def": dict(s["autoencoder_def"])}
    if run.kind == "stylegan2_ada":
        return {"network_def": {"_target_": "monai_synth.networks.stylegan2.StyleGAN2Generator",
                                **s["generator_config"]}}
    return {"network_def": dict(s["network_def"])}  # Med-cDiff: diffusion UNet, pix2pix U-Net or SRResNet
