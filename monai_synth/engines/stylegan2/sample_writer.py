"""Write samples of a trained StyleGAN2 generator (EMA weights), each from its own seed, with a manifest."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from monai_synth.io import ManifestWriter, save_generated, sha256_file
from monai_synth.io.output_guard import check_output_dir
from monai_synth.networks.stylegan2 import StyleGAN2Generator
from monai_synth.networks.stylegan2_checkpoint import load_stylegan2_generator

logger = logging.getLogger(__name__)


def _latent(z_dim: int, seed: int) -> torch.Tensor:
    """The latent z of one sample, from its own seed (CPU generator: the same on every device)."""
    return torch.randn(z_dim, generator=torch.Generator().manual_seed(seed))


class StyleGAN2SampleWriter:
    """Write samples of a trained StyleGAN2 generator (EMA weights) with one manifest line each.

    Sample i uses latent seed ``seed + i``, so every image can be regenerated alone.

    Args:
        checkpoint_dir: training checkpoint file, or folder whose latest checkpoint is used.
        output_dir: folder for the images and ``manifest.jsonl``.
        num_samples: images to write.
        class_label: class of every sample; None (or negative) cycles through the classes.
        truncation_psi: truncation towards the class mean of w (1: none, smaller: less diverse, more typical).
        fmt: "png", "nifti" or "dicom".
        seed: seed of the first sample.
        batch_size: samples generated at once.
        device: where to run the generator.
        window: (level, width) of the training intensity window, to write native units (e.g. HU), or None.
        modality: DICOM modality of the outputs.
        generator: a generator to load the weights into (e.g. built by a bundle's ``network_def``); None: built
            from the checkpoint's settings. ``checkpoint_dir`` may also be an exported bundle folder.
    """

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike,
        output_dir: str | os.PathLike,
        num_samples: int = 16,
        class_label: int | None = None,
        truncation_psi: float = 1.0,
        fmt: str = "png",
        seed: int = 0,
        batch_size: int = 16,
        device: str | torch.device = "cpu",
        window: Sequence[float] | None = None,
        modality: str = "OT",
        generator: StyleGAN2Generator | None = None,
    ) -> None:
        self.checkpoint_dir, self.generator = checkpoint_dir, generator
        self.output_dir = Path(output_dir)
        self.num_samples, self.class_label, self.truncation_psi = int(num_samples), class_label, truncation_psi
        self.fmt, self.seed, self.batch_size, self.device = fmt, int(seed), max(1, int(batch_size)), device
        self.window = tuple(window) if window is not None else None
        self.modality = modality

    def _labels(self, generator: StyleGAN2Generator, indices: range) -> list[int | None]:
        if generator.num_classes == 0:
            if self.class_label not in (None, -1, 0):
                raise ValueError(f"class_label {self.class_label}: this generator is unconditional.")
            return [None] * len(indices)
        if self.class_label is None or self.class_label < 0:
            return [i % generator.num_classes for i in indices]
        if self.class_label >= generator.num_classes:
            raise ValueError(f"class_label must be in [0, {generator.num_classes}), got {self.class_label}.")
        return [int(self.class_label)] * len(indices)

    @torch.no_grad()
    def run(self) -> list[Path]:
        """Generate and write the samples; return the written paths."""
        check_output_dir(self.output_dir)  # never among acquired images
        generator, checkpoint = load_stylegan2_generator(self.checkpoint_dir, self.device, generator=self.generator)
        digest = sha256_file(checkpoint)
        paths: list[Path] = []
        with ManifestWriter(self.output_dir) as manifest:
            for start in range(0, self.num_samples, self.batch_size):
                indices = range(start, min(start + self.batch_size, self.num_samples))
                labels = self._labels(generator, indices)
                z = torch.stack([_latent(generator.z_dim, self.seed + i) for i in indices]).to(self.device)
                lab = torch.tensor(labels, device=self.device) if labels[0] is not None else None
                images = generator(z, lab, truncation_psi=self.truncation_psi, noise_mode="const").float().clamp(-1, 1)
                records = [
                    {"model": "stylegan2_ada", "checkpoint_sha256": digest, "seed": self.seed + i,
                     "condition": {"class_label": k} if k is not None else None, "sampler": "stylegan2",
                     "steps": None, "guidance_scale": None, "truncation_psi": self.truncation_psi}
                    for i, k in zip(indices, labels)
                ]  # fmt: skip
                names = [f"stylegan2_{self.seed + i:06d}" for i in indices]
                paths += save_generated(images.cpu(), self.output_dir, names, fmt=self.fmt, manifest=manifest,
                                        records=records, window=self.window, modality=self.modality)  # fmt: skip
        logger.info("wrote %d samples to %s", len(paths), self.output_dir)
        return paths
