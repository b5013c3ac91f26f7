"""StyleGAN2 networks: modulated convolution maths, shapes for 1 and 3 channels, conditioning, truncation."""

from __future__ import annotations

import pytest
import torch

from monai_synth.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, StyleGAN2MappingNetwork
from monai_synth.networks.stylegan2_layers import MinibatchStdDev, ModulatedConv2d, modulated_conv2d

TINY = {"channel_base": 128, "channel_max": 16}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks run fastest (and steadiest on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def tiny_generator(size: int = 16, channels: int = 1, num_classes: int = 0, **kw) -> StyleGAN2Generator:
    return StyleGAN2Generator(size, channels, num_classes, z_dim=16, w_dim=16, mapping_layers=2, **TINY, **kw)


def test_demodulation_gives_unit_variance() -> None:
    x = torch.randn(8, 64, 24, 24)
    weight = torch.randn(32, 64, 3, 3)
    styles = torch.randn(8, 64) * 3.0  # arbitrary per-sample scales
    out = modulated_conv2d(x, weight, styles, demodulate=True)[:, :, 1:-1, 1:-1]  # interior: no zero padding
    per_channel_std = out.std(dim=(0, 2, 3))
    assert torch.allclose(per_channel_std, torch.ones(32), atol=0.08)
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1]
    assert raw.std() > 5.0  # without demodulation the scale follows the styles and weights


def test_fused_and_unfused_modulation_agree() -> None:
    x, weight, styles = torch.randn(3, 8, 10, 10), torch.randn(5, 8, 3, 3), torch.rand(3, 8) + 0.5
    for demodulate in (True, False):
        fused = modulated_conv2d(x, weight, styles, demodulate, fused=True)
        unfused = modulated_conv2d(x, weight, styles, demodulate, fused=False)
        assert torch.allclose(fused, unfused, atol=1e-5)


def test_modulated_conv_upsamples() -> None:
    layer = ModulatedConv2d(4, 6, 3, w_dim=8, upsample=True)
    assert layer(torch.randn(2, 4, 8, 8), torch.randn(2, 8)).shape == (2, 6, 16, 16)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [16, 32])
def test_generator_and_discriminator_shapes(channels: int, size: int) -> None:
    g = tiny_generator(size, channels, num_classes=2)
    d = StyleGAN2Discriminator(size, channels, 2, mapping_layers=1, **TINY)
    z, labels = torch.randn(4, 16), torch.tensor([0, 1, 0, 1])
    ws = g.map(z, labels)
    assert ws.shape == (4, g.num_ws, 16)
    assert g.num_ws == 2 * size.bit_length() - 4  # 2 log2(size) - 2: 6 at 16 px, 8 at 32 px
    images = g.synthesis(ws)
    assert images.shape == (4, channels, size, size)
    assert d(images, labels).shape == (4, 1)


def test_unconditional_networks() -> None:
    g, d = tiny_generator(), StyleGAN2Discriminator(16, 1, 0, **TINY)
    images = g(torch.randn(2, 16))
    assert images.shape == (2, 1, 16, 16) and d(images).shape == (2, 1)
    assert d.label_mapping is None and g.mapping.embed is None


def test_labels_change_the_output() -> None:
    g = tiny_generator(num_classes=3)
    d = StyleGAN2Discriminator(16, 1, 3, mapping_layers=1, **TINY)
    z = torch.randn(1, 16).repeat(3, 1)
    images = g(z, torch.tensor([0, 1, 2]), noise_mode="const")
    assert not torch.allclose(images[0], images[1]) and not torch.allclose(images[1], images[2])
    same = images[:1].repeat(3, 1, 1, 1)
    logits = d(same, torch.tensor([0, 1, 2]))
    assert logits.unique().numel() == 3


def test_conditional_mapping_requires_labels() -> None:
    with pytest.raises(ValueError, match="labels are required"):
        StyleGAN2MappingNetwork(8, 8, num_classes=2, num_layers=1)(torch.randn(2, 8))


def test_truncation_towards_class_mean() -> None:
    g = tiny_generator(num_classes=2)
    z, labels = torch.randn(64, 16), torch.tensor([0, 1] * 32)
    g.map(z, labels, update_w_avg=True)
    assert (g.w_avg != 0).all(dim=1).all()  # both class means tracked
    ws = g.map(torch.randn(4, 16), torch.tensor([1, 1, 1, 1]), truncation_psi=0.0)
    assert torch.allclose(ws, g.w_avg[1].expand_as(ws))


def test_style_mixing_replaces_later_layers() -> None:
    g = tiny_generator()
    ws = g.map(torch.randn(2, 16))
    mixed = g.mix_styles(ws, None, probability=1.0)
    assert torch.equal(mixed[:, 0], ws[:, 0]) and not torch.equal(mixed[:, -1], ws[:, -1])
    assert g.mix_styles(ws, None, probability=0.0) is ws


def test_noise_modes() -> None:
    g = tiny_generator()
    for layer in g.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(1.0)
    z = torch.randn(2, 16)
    assert torch.equal(g(z, noise_mode="const"), g(z, noise_mode="const"))
    assert not torch.equal(g(z, noise_mode="random"), g(z, noise_mode="random"))
    with pytest.raises(ValueError, match="noise_mode"):
        g(z, noise_mode="bad")


def test_minibatch_stddev_groups() -> None:
    layer = MinibatchStdDev(group_size=4)
    x = torch.randn(6, 8, 4, 4)  # 6 is not a multiple of 4: groups of 3
    out = layer(x)
    assert out.shape == (6, 9, 4, 4)
    assert torch.equal(out[0, -1], out[2, -1]) and torch.equal(out[0, -1], out[4, -1])  # group {0, 2, 4}
    assert not torch.equal(out[0, -1], out[1, -1])


@pytest.mark.parametrize("size", [0, 12, 4])
def test_bad_resolution_raises(size: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Generator(size)
