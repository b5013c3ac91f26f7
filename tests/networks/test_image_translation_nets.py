"""pix2pix and SRGAN networks: shapes, 1 and 3 channels, output range, gradients reach every parameter."""

from __future__ import annotations

import pytest
import torch

from monai_synth.networks.pix2pix import Pix2PixGenerator, build_patch_discriminator, max_unet_depth
from monai_synth.networks.srgan import SRGANDiscriminator, SRResNetGenerator


def _all_grads(net: torch.nn.Module) -> bool:
    return all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("channels,cond,norm", [(1, 1, "instance"), (1, 2, "batch"), (3, 3, "instance"), (3, 4, "batch")])
def test_pix2pix_generator_shapes_and_gradients(channels, cond, norm):
    torch.manual_seed(0)
    g = Pix2PixGenerator(cond, channels, features=4, depth=4, norm=norm)
    x = torch.randn(2, cond, 16, 16)
    y = g(x)
    assert y.shape == (2, channels, 16, 16) and y.abs().max() <= 1.0
    y.sum().backward()
    assert _all_grads(g)


def test_pix2pix_generator_has_dropout_inside_and_checks_size():
    g = Pix2PixGenerator(1, 1, features=4, depth=5, dropout=0.5, dropout_blocks=2)
    drops = [any(isinstance(m, torch.nn.Dropout) for m in block.modules()) for block in g.up]
    assert drops == [True, True, False, False]  # innermost decoder blocks first
    g.eval()
    x = torch.randn(1, 1, 32, 32)
    assert torch.equal(g(x), g(x))  # no dropout at evaluation
    with pytest.raises(ValueError, match="divisible"):
        g(torch.randn(1, 1, 24, 24))
    with pytest.raises(ValueError, match="norm"):
        Pix2PixGenerator(1, 1, norm="layer")
    assert max_unet_depth(64) == 6 and max_unet_depth(48) == 4


@pytest.mark.parametrize("channels,cond", [(1, 1), (3, 4)])
def test_conditional_patch_discriminator(channels, cond):
    d = build_patch_discriminator(channels + cond, channels=4, num_layers_d=2)
    out = d(torch.randn(2, channels + cond, 16, 16))
    assert isinstance(out, list) and out[-1].shape[:2] == (2, 1) and out[-1].shape[-1] > 1  # a grid of patches
    out[-1].sum().backward()
    assert _all_grads(d)


@pytest.mark.parametrize("channels", [1, 3])
def test_srresnet_generator_full_resolution(channels):
    torch.manual_seed(0)
    g = SRResNetGenerator(channels, channels, features=8, num_blocks=2)
    x = torch.randn(2, channels, 20, 12)  # any size: no pixel shuffle, full resolution throughout
    y = g(x)
    assert y.shape == x.shape and y.abs().max() <= 1.0
    y.sum().backward()
    assert _all_grads(g)


@pytest.mark.parametrize("channels,size", [(1, 16), (3, 24)])
def test_srgan_discriminator_logits(channels, size):
    d = SRGANDiscriminator(channels, features=4, num_stages=2, dense=8)
    logits = d(torch.randn(3, channels, size, size))
    assert logits.shape == (3,)
    logits.sum().backward()
    assert _all_grads(d)
    stride2 = [m for m in d.features.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(stride2) == 2
