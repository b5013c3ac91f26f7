"""The utility reader prepares real images exactly as training does (``load_image_tensors``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from utility_data import write_class_folders

from monai_synth.engines.image_tensors import load_image_tensors
from monai_synth.metrics.utility.inputs import native_shape, read_real


@pytest.mark.parametrize("size,channels", [(16, 1), (12, 1), (24, 3)])
def test_reader_matches_training_on_class_folders(tmp_path: Path, size: int, channels: int) -> None:
    source = write_class_folders(tmp_path / "data", [3, 2], seed=0, mode="RGB" if channels == 3 else "L")
    ours = read_real(source, "train", size, channels)
    training = load_image_tensors(str(source), size, channels, split="train")
    assert torch.equal(ours.images, training.images) and torch.equal(ours.labels, training.labels)
    assert ours.class_names == training.class_names == ["c0", "c1"]
    assert native_shape(source, "train") == ((3 if channels == 3 else 1), 16, 16)


def test_reader_matches_training_on_the_phantom() -> None:
    ours = read_real(None, "test", 32, 1, phantom_count=6)
    training = load_image_tensors(None, 32, 1, split="test", phantom_count=6)
    assert torch.equal(ours.images, training.images) and torch.equal(ours.labels, training.labels)
    assert ours.class_names == training.class_names and ours.source == "phantom (split 'test')"
