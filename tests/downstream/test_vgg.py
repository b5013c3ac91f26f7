"""The VGG11-style classifier: layer layout, shapes, determinism, and learning a separable toy set."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_synth.downstream.vgg import VGG11Classifier, predict_vgg, train_vgg, vgg_accuracy


def _toy(n: int = 64, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: dark left half; class 1: dark right half (plus noise)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    x = 0.1 * torch.randn(n, 1, size, size, generator=g)
    half = size // 2
    for i, y in enumerate(labels.tolist()):
        x[i, :, :, :half] += -0.8 if y == 0 else 0.8
        x[i, :, :, half:] += 0.8 if y == 0 else -0.8
    return x.clamp(-1, 1), labels


@pytest.mark.parametrize("size,pools", [(28, 4), (64, 5), (8, 3)])
def test_pools_stop_at_one_pixel_and_shapes(size: int, pools: int) -> None:
    net = VGG11Classifier(1, 3, image_size=size)
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.features.modules()) == pools
    assert sum(isinstance(m, nn.Conv2d) for m in net.features.modules()) == 8
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.features.modules()) == 8
    assert net(torch.zeros(2, 1, size, size)).shape == (2, 3)


def test_width_scales_channels() -> None:
    convs = [m for m in VGG11Classifier(3, 2, 32, width=0.25).features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 64, 128, 128, 128, 128]
    assert convs[0].in_channels == 3


def test_learns_separable_toy_set_deterministically() -> None:
    x, y = _toy()
    net = train_vgg(x, y, 2, epochs=6, batch_size=16, lr=3e-3, seed=1)
    xt, yt = _toy(32, seed=5)
    assert vgg_accuracy(net, xt, yt) >= 0.9
    again = train_vgg(x, y, 2, epochs=6, batch_size=16, lr=3e-3, seed=1)
    assert torch.equal(predict_vgg(net, xt), predict_vgg(again, xt))
    for a, b in zip(net.parameters(), again.parameters()):
        assert torch.equal(a, b)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        VGG11Classifier(1, 2, 28, width=0)
    net = VGG11Classifier(1, 2, 16)
    with pytest.raises(ValueError):
        vgg_accuracy(net, torch.zeros(0, 1, 16, 16), torch.zeros(0, dtype=torch.long))
