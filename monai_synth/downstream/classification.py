"""Classification as a downstream check of class-conditional generation.

A classifier trained on real images labels generated ones; the share assigned to the class they were
conditioned on measures whether conditioning worked. Its accuracy on a real hold-out is reported beside it,
so that a low figure can be told apart from a weak classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.nets import Classifier
from torch import nn

from monai_synth.downstream.fit import fit_supervised, predict_batched


def build_classifier(image_size: int, channels: int, num_classes: int) -> nn.Module:
    """MONAI's residual ``Classifier`` with four stride-2 levels."""
    return Classifier(
        in_shape=(channels, image_size, image_size), classes=num_classes, channels=(16, 32, 64, 128),
        strides=(2, 2, 2, 2), num_res_units=1, dropout=0.1,
    )


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random integer shifts of up to 1/16 of the side, by reflection padding and cropping."""
    pad = max(1, x.shape[-1] // 16)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=g))
    return xp[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Train a classifier on images (N, C, H, W) in [-1, 1]; deterministic for a seed."""
    torch.manual_seed(seed)
    net = build_classifier(images.shape[-1], images.shape[1], num_classes).to(torch.device(device))
    return fit_supervised(net, images, labels, F.cross_entropy, epochs, batch_size, lr, seed, device, _augment)


def predict_labels(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class of each image."""
    return predict_batched(net, images, batch_size)


def classification_report(pred: torch.Tensor, target: torch.Tensor, class_names: list[str]) -> dict:
    """Overall accuracy and the per-class share of images assigned to their own class."""
    per_class = {}
    for c, name in enumerate(class_names):
        sel = target == c
        if sel.any():
            per_class[name] = round(float((pred[sel] == c).float().mean()), 4)
    return {"accuracy": round(float((pred == target).float().mean()), 4), "per_class": per_class, "n": int(len(target))}
