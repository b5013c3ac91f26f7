"""A VGG11-style image classifier in pure PyTorch, for the downstream check of denoising.

Med-cDiff (Table 2) trains a VGG11 on clean chest X-rays and reports its accuracy on clean, noisy and
denoised test images. torchvision cannot be used here, so the network is written out: the VGG11 ("A")
convolution configuration of Simonyan and Zisserman (2015),
``[64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M]``, with batch norm after every convolution, all
widths multiplied by ``width`` (1/8 by default, small enough for a CPU), max pools skipped once the map is
1 x 1 (small inputs such as MedMNIST's 28 px), then global average pooling and a small dense head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from monai_synth.downstream.fit import fit_supervised, predict_batched

__all__ = ["VGG11_CONFIG", "VGG11Classifier", "train_vgg", "predict_vgg", "vgg_accuracy"]

VGG11_CONFIG: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
"""Output channels of each 3x3 convolution, ``"M"`` for a 2x2 max pool (VGG configuration A)."""


def _vgg_features(in_channels: int, image_size: int, width: float) -> tuple[nn.Sequential, int]:
    """The convolutional trunk for ``image_size`` inputs and its number of output channels."""
    layers: list[nn.Module] = []
    channels, side = in_channels, int(image_size)
    for item in VGG11_CONFIG:
        if item == "M":
            if side > 1:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            continue
        out = max(1, round(int(item) * width))
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        channels = out
    return nn.Sequential(*layers), channels


class VGG11Classifier(nn.Module):
    """VGG11 with batch norm, scaled widths, small-input pooling and a small dense head.

    Args:
        in_channels: image channels.
        num_classes: number of classes.
        image_size: side of the (square) input images; pools are skipped once the map is 1 x 1.
        width: multiplier of the VGG11 widths (1.0 = the original 64..512 channels).
        hidden: units of the hidden dense layer.
        dropout: dropout before each dense layer.

    Example::

        net = VGG11Classifier(1, 2, image_size=28)
        logits = net(torch.zeros(4, 1, 28, 28))   # (4, 2)
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        image_size: int,
        width: float = 0.125,
        hidden: int = 128,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if width <= 0 or num_classes < 1 or image_size < 1:
            raise ValueError(
                f"need width > 0, num_classes >= 1, image_size >= 1; got {width}, {num_classes}, {image_size}"
            )
        self.features, channels = _vgg_features(in_channels, image_size, width)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, num_classes)`` of images ``(B, C, H, W)``."""
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1))


def train_vgg(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    width: float = 0.125,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> VGG11Classifier:
    """Train a :class:`VGG11Classifier` with AdamW and a one-cycle schedule; deterministic for a seed.

    Args:
        images: ``(N, C, H, W)`` in [-1, 1].
        labels: ``(N,)`` class indices.
        num_classes: number of classes.
        epochs: passes over the data (the incomplete last batch of each is dropped).
        batch_size: images per step (lowered to ``N`` for tiny sets).
        lr: peak learning rate.
        width: width multiplier of the network.
        seed: seed of the initial weights and of the batch order.
        device: where to train.

    Returns:
        The trained network, in eval mode.
    """
    torch.manual_seed(seed)
    net = VGG11Classifier(images.shape[1], num_classes, images.shape[-1], width=width).to(torch.device(device))
    return fit_supervised(net, images, labels, F.cross_entropy, epochs, min(batch_size, len(images)), lr, seed, device)


def predict_vgg(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted class of each image ``(N, C, H, W)`` (CPU tensor ``(N,)``)."""
    return predict_batched(net, images, batch_size)


def vgg_accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose predicted class is their label."""
    if len(images) == 0:
        raise ValueError("no images to classify")
    return float((predict_vgg(net, images) == labels.cpu()).float().mean())
