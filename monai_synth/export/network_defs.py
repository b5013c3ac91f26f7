"""The ``network_def`` (and ``autoencoder_def``) entries of an exported config: full dotted ``_target_`` plus the
exact keyword arguments the training built the network with, so ``monai.bundle.load`` and ``ckpt_export`` build
the trained network from the config alone."""

from __future__ import annotations

from typing import Any

from monai_synth.engines.med_cdiff.restorer import diffusion_unet_kwargs
from monai_synth.export.run_folder import TrainedRun
from monai_synth.transforms.degradation import make_degradation

__all__ = ["network_definitions"]

UNET = "monai.networks.nets.DiffusionModelUNet"


def network_definitions(run: TrainedRun) -> dict[str, dict[str, Any]]:
    """Config entries by id: ``network_def`` always, ``autoencoder_def`` for Medfusion."""
    s = run.settings
    if run.kind == "medfusion":
        return {"network_def": dict(s["unet_def"]), "autoencoder_def": dict(s["autoencoder_def"])}
    if run.kind == "stylegan2_ada":
        return {"network_def": {"_target_": "monai_synth.networks.stylegan2.StyleGAN2Generator",
                                **s["generator_config"]}}
    return {"network_def": _restoring_network(s)}


def _restoring_network(s: dict[str, Any]) -> dict[str, Any]:
    """Med-cDiff's restoring network: the diffusion UNet, the pix2pix U-Net or the SRResNet."""
    channels = int(s["channels"])
    cond = make_degradation(s["task"], s.get("degradation", {})).condition_channels(channels)
    if s["model"] == "diffusion":
        return {"_target_": UNET, **diffusion_unet_kwargs(s["network_args"], channels, cond)}
    target = {"pix2pix": "monai_synth.networks.pix2pix.Pix2PixGenerator",
              "srgan": "monai_synth.networks.srgan.SRResNetGenerator"}[s["model"]]
    return {"_target_": target, "in_channels": cond, "out_channels": channels, **s["network_args"].get("generator", {})}
