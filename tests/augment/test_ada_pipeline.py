"""ADA augmentation pipeline: each operation is differentiable, applied with probability p, exact where it should."""

from __future__ import annotations

import pytest
import torch

from monai_synth.augment import AUGMENT_OPS, AdaptiveAugmentPipeline
from monai_synth.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("op", AUGMENT_OPS)
def test_each_op_changes_images_and_passes_gradients(op: str) -> None:
    channels = 3 if op == "saturation" else 1
    x = torch.randn(8, channels, 16, 16, requires_grad=True)
    y = AdaptiveAugmentPipeline(ops=[op], p=1.0)(x, generator=seeded(1))
    assert not torch.allclose(y, x.detach())
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("op", AUGMENT_OPS)
def test_gradcheck_each_op(op: str) -> None:
    """For fixed random draws each op is (piecewise) linear in the pixels: check autograd numerically."""
    channels = 3 if op == "saturation" else 1
    pipe = AdaptiveAugmentPipeline(ops=[op], p=1.0)
    x = torch.randn(2, channels, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: pipe(t, generator=seeded(3)), (x,), eps=1e-6, atol=1e-5)


def test_generator_gets_gradients_through_augmentation() -> None:
    torch.manual_seed(0)
    g = StyleGAN2Generator(16, 1, 0, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=8)
    d = StyleGAN2Discriminator(16, 1, 0, channel_base=64, channel_max=8)
    pipe = AdaptiveAugmentPipeline(p=1.0, ops=[op for op in AUGMENT_OPS if op != "saturation"])
    d(pipe(g(torch.randn(4, 8)))).sum().backward()
    grads = [p.grad for p in g.synthesis.parameters() if p.requires_grad]
    assert all(gr is not None for gr in grads) and sum(float(gr.abs().sum()) for gr in grads) > 0


def test_zero_probability_is_identity() -> None:
    x = torch.randn(4, 1, 16, 16)
    assert AdaptiveAugmentPipeline(p=0.0)(x) is x


def test_probability_is_per_image() -> None:
    x = torch.zeros(4000, 1, 4, 4)
    y = AdaptiveAugmentPipeline(ops=["brightness"], p=0.3)(x, generator=seeded(0))
    changed = (y != 0).flatten(1).any(dim=1).float().mean()
    assert abs(float(changed) - 0.3) < 0.03


def test_integer_geometry_is_exact() -> None:
    """Flips, quarter turns and integer shifts move pixels without interpolation."""
    x = torch.randn(16, 1, 8, 8)
    y = AdaptiveAugmentPipeline(ops=["xflip", "rotate90"], p=1.0)(x, generator=seeded(2))
    for xi, yi in zip(x, y):
        candidates = [torch.rot90(v, k, dims=(1, 2)) for v in (xi, xi.flip(-1)) for k in range(4)]
        assert any(torch.allclose(yi, c, atol=1e-5) for c in candidates)
    shifted = AdaptiveAugmentPipeline(ops=["translate"], p=1.0)(x, generator=seeded(4))
    interior = shifted[:, :, 2:-2, 2:-2]  # values inside come from pixels of the input (no blending)
    assert all(torch.isin(interior[i].round(decimals=4), x[i].round(decimals=4)).all() for i in range(len(x)))


def test_p_is_a_buffer_in_the_state_dict() -> None:
    pipe = AdaptiveAugmentPipeline(p=0.25)
    other = AdaptiveAugmentPipeline()
    other.load_state_dict(pipe.state_dict())
    assert float(other.p) == 0.25


def test_unknown_op_and_strength_raise() -> None:
    with pytest.raises(ValueError, match="unknown augmentation"):
        AdaptiveAugmentPipeline(ops=["xflip", "mixup"])
    with pytest.raises(ValueError, match="unknown strength"):
        AdaptiveAugmentPipeline(strengths={"hue_max": 1.0})
