"""The pipeline objects an exported bundle's ``configs/inference.json`` builds (its ``evaluator``).

Each takes the networks the config built from ``network_def`` (and ``autoencoder_def``), loads the bundle's
weights into them, and runs the same library code as the run-folder configs: ``sample_to_folder`` (Medfusion,
as ``sample.json``), ``restore_to_folder`` (Med-cDiff, as ``infer.json``) and ``StyleGAN2SampleWriter``
(StyleGAN2-ADA, as ``sample.json``). Nothing is loaded before :meth:`run`, so building the config (e.g.
``ConfigWorkflow.check_properties``) is cheap.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_synth.engines.med_cdiff.infer import restore_to_folder
from monai_synth.engines.med_cdiff.restorer import load_restorer
from monai_synth.engines.medfusion import load_medfusion
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.engines.medfusion.sample import sample_to_folder
from monai_synth.engines.stylegan2 import StyleGAN2SampleWriter
from monai_synth.export.locate import running_bundle_root
from monai_synth.io.model_bundle import is_exported_bundle

#: the sampling settings a Medfusion pipeline takes; the others go to the writer
PIPELINE_KEYS = ("sampler", "steps", "eta", "guidance_scale", "precision")

__all__ = ["MedfusionBundleSampler", "MedCDiffBundleRestorer", "StyleGAN2BundleSampler", "resolve_bundle_root"]


def resolve_bundle_root(bundle_root: str | os.PathLike) -> Path:
    """``bundle_root`` when it holds an exported bundle, else the running bundle's root.

    Raises:
        FileNotFoundError: no exported bundle found, with the option that fixes it.
    """
    if is_exported_bundle(bundle_root):
        return Path(bundle_root)
    found = running_bundle_root(default=os.fspath(bundle_root))
    if not is_exported_bundle(found):
        raise FileNotFoundError(
            f"{os.path.abspath(bundle_root)}: not an exported bundle (no configs/inference.json and models/model.pt); "
            "pass --bundle_root <the bundle folder>"
        )
    return Path(found)


class MedfusionBundleSampler:
    """Write ``num_samples`` generated images of one class, exactly as ``bundles/medfusion/sample.json`` does.

    Args:
        bundle_root: the exported bundle folder.
        output_dir: where the images and ``manifest.jsonl`` go.
        network: the latent UNet built by ``network_def`` (None: built from the bundle's settings).
        autoencoder: the VAE built by ``autoencoder_def`` (None: built from the bundle's settings).
        sampling: the keyword arguments of :func:`~monai_synth.engines.medfusion.sample.sample_to_folder`
            (``num_samples``, ``class_label``, ``sampler``, ``steps``, ``eta``, ``guidance_scale``, ``seed``,
            ``format``, ``batch_size``, ``device``, ``precision``, ``modality``, ``progress``).
    """

    def __init__(self, bundle_root: str, output_dir: str, network: nn.Module | None = None,
                 autoencoder: nn.Module | None = None, **sampling: Any) -> None:
        self.bundle_root, self.output_dir = bundle_root, output_dir
        self.network, self.autoencoder, self.sampling = network, autoencoder, sampling

    def run(self) -> list[Path]:
        """Load the weights into the networks and write the images; return the written paths."""
        root = resolve_bundle_root(self.bundle_root)
        device = str(self.sampling.get("device", "cpu"))
        device = device if (not device.startswith("cuda") or torch.cuda.is_available()) else "cpu"
        model = load_medfusion(root, device, unet=self.network, vae=self.autoencoder)
        opts = dict(self.sampling)
        pipeline = MedfusionPipeline(model, **{k: opts.pop(k) for k in PIPELINE_KEYS if k in opts}, device=device)
        opts.pop("device", None)
        return sample_to_folder(pipeline, self.output_dir, **opts)


class MedCDiffBundleRestorer:
    """Restore a folder of images, a NIfTI volume or a DICOM series, exactly as ``bundles/med_cdiff/infer.json``.

    Args:
        bundle_root: the exported bundle folder.
        input: the images to restore (see :func:`~monai_synth.engines.med_cdiff.infer.restore_to_folder`).
        output_dir: where the restored images and ``manifest.jsonl`` go.
        network: the restoring network built by ``network_def`` (None: built from the bundle's settings).
        model: the bundle's model ("diffusion", "pix2pix" or "srgan").
        options: the other keyword arguments of ``restore_to_folder`` (``format``, ``sampler``, ``steps``, ``eta``,
            ``strength``, ``seed``, ``simulate``, ``setting``, ``factor``, ``mask``, ``batch_size``, ``device``,
            ``axis``, ``modality``, ``series_description``, ``progress``).
    """

    def __init__(self, bundle_root: str, input: str, output_dir: str,  # noqa: A002 - the bundle key users set
                 network: nn.Module | None = None, model: str = "diffusion", **options: Any) -> None:
        self.bundle_root, self.input, self.output_dir = bundle_root, input, output_dir
        self.network, self.model, self.options = network, model, options

    def run(self) -> list[Path]:
        """Load the weights into the network and restore every input image; return the written paths."""
        if not self.input:
            raise ValueError("input is empty: pass --input <folder of images, NIfTI file or DICOM series folder>")
        root = resolve_bundle_root(self.bundle_root)
        o = dict(self.options)
        sampling = {k: o.pop(k) for k in ("device", "sampler", "steps", "eta", "strength") if k in o}
        restorer = load_restorer(root, self.model, net=self.network, **sampling)
        return restore_to_folder(self.input, self.output_dir, restorer, **o)


class StyleGAN2BundleSampler:
    """Write ``num_samples`` generated images, exactly as ``bundles/stylegan2_ada/sample.json`` does.

    Args:
        bundle_root: the exported bundle folder.
        output_dir: where the images and ``manifest.jsonl`` go.
        network: the generator built by ``network_def`` (None: built from the bundle's settings).
        options: the other keyword arguments of :class:`~monai_synth.engines.stylegan2.StyleGAN2SampleWriter`
            (``num_samples``, ``class_label``, ``truncation_psi``, ``fmt``, ``seed``, ``batch_size``, ``device``,
            ``window``, ``modality``).
    """

    def __init__(self, bundle_root: str, output_dir: str, network: nn.Module | None = None, **options: Any) -> None:
        self.bundle_root, self.output_dir, self.network, self.options = bundle_root, output_dir, network, options

    def run(self) -> list[Path]:
        """Load the EMA weights into the generator and write the images; return the written paths."""
        root = resolve_bundle_root(self.bundle_root)
        writer = StyleGAN2SampleWriter(root, self.output_dir, generator=self.network, **self.options)
        return writer.run()
