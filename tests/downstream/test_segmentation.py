"""DynUNet segmentation Dice: layout from the image size, the Dice path, and a tiny phantom run."""

from __future__ import annotations

import pytest
import torch

from monai_synth.downstream.segmentation import (
    build_dynunet,
    dice_per_structure,
    dynunet_layout,
    phantom_segmentation_set,
    predict_segmentation,
    train_segmenter,
)


@pytest.mark.parametrize("size,strides", [(32, [1, 2, 2, 2]), (64, [1, 2, 2, 2, 2]), (28, [1, 2, 2])])
def test_layout_follows_image_size(size: int, strides: list[int]) -> None:
    kernels, got = dynunet_layout(size)
    assert got == strides and kernels == [3] * len(strides)
    assert build_dynunet(size).eval()(torch.zeros(1, 1, size, size)).shape == (1, 3, size, size)


def test_phantom_set_labels_and_disjoint_splits() -> None:
    x, y = phantom_segmentation_set(4, 32, seed=0, split="train")
    assert x.shape == y.shape == (4, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert set(torch.unique(y).tolist()) == {0, 1, 2}
    xt, _ = phantom_segmentation_set(4, 32, seed=0, split="test")
    assert not torch.equal(x, xt)
    small, labels = phantom_segmentation_set(2, 16)
    assert small.shape == labels.shape == (2, 1, 16, 16)


def test_dice_of_perfect_and_wrong_predictions() -> None:
    _, y = phantom_segmentation_set(3, 32)
    assert dice_per_structure(y, y) == {"lung": pytest.approx(1.0), "heart": pytest.approx(1.0)}
    swapped = torch.where(y == 1, torch.full_like(y, 2), torch.where(y == 2, torch.ones_like(y), y))
    assert dice_per_structure(swapped, y) == {"lung": pytest.approx(0.0), "heart": pytest.approx(0.0)}
    half = y.clone()
    half[..., :16] = 0  # left half of each structure lost
    scores = dice_per_structure(half, y)
    assert 0.3 < scores["lung"] < 0.9
    with pytest.raises(ValueError):
        dice_per_structure(y[:2], y)


def test_tiny_training_beats_chance() -> None:
    x, y = phantom_segmentation_set(16, 32, seed=0, split="train")
    net = train_segmenter(x, y, epochs=8, batch_size=8, lr=1e-2, base_filters=8, seed=0)
    xt, yt = phantom_segmentation_set(8, 32, seed=0, split="test")
    scores = dice_per_structure(predict_segmentation(net, xt), yt)
    assert scores["lung"] > 0.6 and scores["heart"] > 0.3, scores
