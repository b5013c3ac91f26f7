"""Segmentation Dice as a downstream check of super-resolution (Med-cDiff's protocol, on the phantom).

A MONAI ``DynUNet`` (nnU-Net style: kernel sizes and strides derived from the image size) is trained on
clean, full-resolution phantom radiographs with their exact masks (0 background, 1 lungs, 2 heart); its
Dice per structure on another set of images (clean, degraded, or each method's restorations) says how
much of the anatomy a restoration lets a segmentation network recover.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss
from monai.metrics import DiceMetric
from monai.networks.nets import DynUNet
from torch import nn

from monai_synth.data import build_datalist
from monai_synth.downstream.fit import fit_supervised, predict_batched

__all__ = [
    "PHANTOM_STRUCTURES",
    "dice_per_structure",
    "dynunet_layout",
    "build_dynunet",
    "phantom_segmentation_set",
    "predict_segmentation",
    "train_segmenter",
]

PHANTOM_STRUCTURES: tuple[str, ...] = ("lung", "heart")
"""Foreground classes of the phantom label maps, in label order (0 is the background)."""


def dynunet_layout(image_size: int, min_side: int = 4, max_levels: int = 6) -> tuple[list[int], list[int]]:
    """nnU-Net style kernels and strides: halve the image while its side stays >= ``2 * min_side``.

    Args:
        image_size: side of the square input.
        min_side: smallest side of the deepest feature map.
        max_levels: most resolution levels (the first has stride 1).

    Returns:
        ``(kernel_sizes, strides)``, one entry per level, e.g. 32 px -> ``[3, 3, 3, 3]``, ``[1, 2, 2, 2]``.
    """
    strides, side = [1], int(image_size)
    while side >= 2 * min_side and side % 2 == 0 and len(strides) < max_levels:
        strides.append(2)
        side //= 2
    return [3] * len(strides), strides


def build_dynunet(image_size: int, in_channels: int = 1, num_classes: int = 3, base_filters: int = 8) -> DynUNet:
    """A 2D ``DynUNet`` for ``image_size`` inputs, filters doubling per level from ``base_filters`` (capped at 8x)."""
    kernels, strides = dynunet_layout(image_size)
    filters = [base_filters * min(2**level, 8) for level in range(len(strides))]
    return DynUNet(
        spatial_dims=2, in_channels=in_channels, out_channels=num_classes, kernel_size=kernels, strides=strides,
        upsample_kernel_size=strides[1:], filters=filters, norm_name="instance",
    )


def _label_map(lung: np.ndarray, heart: np.ndarray) -> np.ndarray:
    """Label map (1, H, W) int64: 1 lungs, 2 heart (the heart wins where they touch), else 0."""
    labels = (np.asarray(lung) > 0).astype(np.int64)
    labels[np.asarray(heart) > 0] = 2
    return labels


def phantom_segmentation_set(
    count: int, image_size: int, seed: int = 0, split: str = "train"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Phantom images in [-1, 1] and their label maps, as the data layer builds them for ``split``.

    The phantom splits use disjoint seeds (``build_datalist(None, split=...)``), so ``"train"`` and
    ``"test"`` never share an image. Sides below the phantom minimum (32) are rendered at 32 and resized
    (images: antialiased bilinear; labels: nearest).

    Returns:
        ``(images (N, 1, S, S) float32, labels (N, 1, S, S) int64)``.
    """
    entries = build_datalist(None, split=split, phantom_count=count, phantom_size=max(image_size, 32), seed=seed)
    images = torch.stack([torch.from_numpy(np.asarray(e["image"], np.float32)) * 2.0 - 1.0 for e in entries])
    labels = torch.stack([torch.from_numpy(_label_map(e["lung_mask"], e["heart_mask"])) for e in entries])
    if images.shape[-1] != image_size:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", antialias=True).clamp(-1, 1)
        labels = F.interpolate(labels.float(), size=(image_size, image_size), mode="nearest").long()
    return images.contiguous(), labels.contiguous()


def train_segmenter(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int = 3,
    epochs: int = 20,
    batch_size: int = 16,
    lr: float = 1e-2,
    base_filters: int = 8,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Train a :func:`build_dynunet` network with Dice + cross-entropy; deterministic for a seed.

    Args:
        images: ``(N, C, H, W)`` in [-1, 1] (square).
        labels: ``(N, 1, H, W)`` class indices.
        num_classes: classes including the background.
        epochs: passes over the data.
        batch_size: images per step (lowered to ``N`` for tiny sets).
        lr: peak learning rate (AdamW, one-cycle schedule).
        base_filters: filters of the first level.
        seed: seed of the initial weights and of the batch order.
        device: where to train.

    Returns:
        The trained network, in eval mode.
    """
    torch.manual_seed(seed)
    net = build_dynunet(images.shape[-1], images.shape[1], num_classes, base_filters).to(torch.device(device))
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    return fit_supervised(net, images, labels, loss_fn, epochs, min(batch_size, len(images)), lr, seed, device)


def predict_segmentation(net: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Label map ``(N, 1, H, W)`` int64 (argmax over classes) of each image."""
    return predict_batched(net, images, batch_size, keepdim=True)


def dice_per_structure(
    pred: torch.Tensor, target: torch.Tensor, names: Sequence[str] = PHANTOM_STRUCTURES
) -> dict[str, float]:
    """Mean Dice over images of each foreground class (MONAI ``DiceMetric``, background excluded).

    Args:
        pred: predicted label maps ``(N, 1, H, W)``.
        target: true label maps ``(N, 1, H, W)``.
        names: names of classes 1, 2, ...

    Returns:
        ``{name: dice}``; an image where a structure is absent from the target is left out of its mean.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    num_classes = len(names) + 1
    metric = DiceMetric(include_background=False, reduction="mean_batch", ignore_empty=True)
    onehot = [F.one_hot(t.long()[:, 0], num_classes).permute(0, 3, 1, 2).float() for t in (pred, target)]
    per_class = _dice(metric, *onehot)
    return {name: float(v) for name, v in zip(names, per_class.tolist())}


def _dice(metric: DiceMetric, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Aggregate one batch of one-hot maps through ``metric``: ``(num_classes - 1,)``."""
    metric(y_pred=pred, y=target)
    value = metric.aggregate()
    metric.reset()
    return torch.as_tensor(value).reshape(-1)
