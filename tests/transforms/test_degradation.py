"""The maths of Med-cDiff's degradations: sizes, invariants, noise statistics, masks, seeding."""

from __future__ import annotations

import math

import pytest
import torch

from monai_synth.transforms import (
    SR_FACTORS,
    DegradeInpaint,
    DegradeInpaintd,
    DegradeNoise,
    DegradeNoised,
    DegradeResolution,
    DegradeResolutiond,
    downsample,
    make_degradation,
    upsample,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _smooth(size: int = 64, channels: int = 1) -> torch.Tensor:
    """A low-frequency image: one period of a cosine along each axis, in [-0.8, 0.8]."""
    r = (torch.arange(size) + 0.5) / size
    img = 0.4 * torch.cos(2 * math.pi * r)[:, None] + 0.4 * torch.sin(2 * math.pi * r)[None, :]
    return img.expand(channels, size, size).clone()


def test_sr_factors_are_the_papers():
    assert [round(f, 4) for f in SR_FACTORS] == [2.8284, 4.0, 5.6569, 8.0, 11.3137, 16.0]


@pytest.mark.parametrize("factor", SR_FACTORS)
def test_downsampled_size_is_rounded_side_over_factor(factor):
    low = downsample(torch.zeros(2, 1, 64, 48), factor)
    assert low.shape == (2, 1, round(64 / factor), round(48 / factor))
    assert DegradeResolution([factor])(torch.zeros(2, 3, 64, 48), _gen()).shape == (2, 3, 64, 48)


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_sr_of_a_constant_image_is_the_constant(mode):
    x = torch.full((1, 64, 64), 0.37)
    for f in SR_FACTORS:
        torch.testing.assert_close(DegradeResolution([f], mode)(x, factor=f), x, atol=1e-5, rtol=0)


def test_smooth_image_survives_sr_but_nyquist_checkerboard_does_not():
    smooth = _smooth()
    err = (DegradeResolution()(smooth, factor=4) - smooth).abs()[:, 8:-8, 8:-8]  # borders are replicated
    assert err.max() < 0.03 and err.mean() < 0.01
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    checker = (((yy + xx) % 2) * 2.0 - 1.0)[None] * 0.8
    restored = DegradeResolution()(checker, factor=2 * math.sqrt(2))
    assert restored.abs().max() < 0.05  # the Nyquist pattern averages out entirely


def test_upsample_bicubic_is_clamped_bilinear_is_not_needed():
    low = torch.tensor([[[[-1.0, 1.0], [1.0, -1.0]]]])
    assert upsample(low, 16, "bicubic").abs().max() <= 1.0
    with pytest.raises(ValueError, match="mode"):
        upsample(low, 16, "nearest")


def test_noise_statistics_match_the_settings():
    x = torch.zeros(4, 1, 128, 128)
    std, p = 0.1, 0.05
    y = DegradeNoise([(std, p)])(x, _gen(1))
    impulses = y.abs() == 1.0
    n = impulses.numel()
    assert abs(impulses.float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / n)
    salt = (y == 1.0).sum().item() / impulses.sum().item()
    assert abs(salt - 0.5) < 4 * math.sqrt(0.25 / impulses.sum().item())
    gauss = y[~impulses]
    assert abs(gauss.std().item() - std) < 0.01 * std * 4 and abs(gauss.mean().item()) < 4 * std / math.sqrt(gauss.numel())


def test_noise_is_clamped_and_salt_pepper_shared_across_channels():
    x = torch.full((2, 3, 32, 32), 0.95)
    y = DegradeNoise([(0.3, 0.1)])(x, _gen(2))
    assert y.min() >= -1 and y.max() <= 1
    pepper = y[:, :1] == -1.0  # 0.95 + N(0, 0.3^2) clamped never reaches -1: these are pepper pixels
    assert pepper.any() and bool((y[pepper.expand_as(y)] == -1.0).all())  # in every channel of the pixel


def test_noise_level_drawn_from_levels():
    x = torch.zeros(64, 1, 16, 16)
    y = DegradeNoise([(0.0, 0.0), (0.5, 0.0)])(x, _gen(3))
    per_image = y.flatten(1).abs().amax(1)
    assert (per_image == 0).any() and (per_image > 0).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inpaint_masks_are_binary_with_bounded_coverage(seed):
    t = DegradeInpaint(box_fraction=(0.1, 0.2), strokes=(1, 2), stroke_width=(2, 3))
    mask = t.make_mask((8, 1, 64, 64), _gen(seed))
    assert mask.shape == (8, 1, 64, 64) and set(mask.unique().tolist()) <= {0.0, 1.0}
    cover = mask.flatten(1).mean(1)
    # the box alone covers >= 10 % (up to rounding); two strokes of width <= 3 and length <= 3 * 0.4 * 64 add < 18 %
    assert bool((cover >= 0.09).all()) and bool((cover <= 0.2 + 0.18).all())


def test_inpaint_sets_missing_pixels_to_zero_and_keeps_the_rest():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    t = DegradeInpaint()
    mask = t.make_mask(x.shape, _gen(4))
    y = t(x, mask=mask)
    missing = mask.expand_as(x).bool()
    assert bool((y[missing] == 0).all()) and torch.equal(y[~missing], x[~missing])


def test_same_seed_same_output_different_seeds_differ():
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    for task in ("sr", "denoise", "inpaint"):
        deg = make_degradation(task, {"factors": SR_FACTORS})
        a, b, c = deg.training(x, _gen(5)), deg.training(x, _gen(5)), deg.training(x, _gen(6))
        assert torch.equal(a, b)
        if task != "sr":  # sr is random only through its factor, which may coincide
            assert not torch.equal(a, c)


def test_fixed_degradation_depends_on_the_image_seed_only():
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    for task in ("denoise", "inpaint"):
        deg = make_degradation(task, {})
        setting = deg.settings()[0]
        full = deg.fixed(x, setting, [7, 8, 9])
        torch.testing.assert_close(deg.fixed(x[1:2], setting, [8]), full[1:2])
        assert not torch.equal(deg.fixed(x[:1], setting, [10]), full[:1])
    with pytest.raises(ValueError, match="seeds"):
        deg.fixed(x, setting, [1])


def test_condition_channels_and_image_part():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for task, extra in (("sr", 0), ("denoise", 0), ("inpaint", 1)):
        deg = make_degradation(task, {})
        cond = deg.training(x, _gen(0))
        assert deg.condition_channels(3) == 3 + extra and cond.shape == (2, 3 + extra, 16, 16)
        assert deg.image_part(cond).shape == x.shape


def test_settings_names():
    assert [s["name"] for s in make_degradation("sr", {"factors": SR_FACTORS}).settings()] == [
        "x2.83", "x4", "x5.66", "x8", "x11.31", "x16"]
    deg = make_degradation("denoise", {"noise_levels": [[0.1, 0.05], [0.2, 0.1]]})
    assert [s["name"] for s in deg.settings()] == ["noise0.1_sp0.05", "noise0.2_sp0.1"]
    assert make_degradation("inpaint", {}).settings() == [{"name": "inpaint"}]


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="task"):
        make_degradation("deblur", {})
    with pytest.raises(ValueError, match="unknown"):
        make_degradation("sr", {"factor": 4})
    with pytest.raises(ValueError):
        DegradeResolution([0.5])
    with pytest.raises(ValueError):
        DegradeNoise([(0.1, 2.0)])


def test_single_images_work_like_batches():
    x = torch.rand(1, 16, 16) * 2 - 1
    assert DegradeResolution()(x, _gen()).shape == x.shape
    torch.testing.assert_close(DegradeNoise()(x, _gen(1)), DegradeNoise()(x[None], _gen(1))[0])


def test_dictionary_versions():
    img = torch.rand(1, 32, 32) * 2 - 1
    d = DegradeResolutiond(keys="image", factor=4)({"image": img})
    torch.testing.assert_close(d["image_degraded"], DegradeResolution()(img, factor=4))
    n1 = DegradeNoised(keys="image")({"image": img}, seed=3)
    n2 = DegradeNoised(keys="image")({"image": img}, seed=3)
    assert torch.equal(n1["image_degraded"], n2["image_degraded"]) and torch.equal(n1["image"], img)
    m = DegradeInpaintd(keys="image")({"image": img}, seed=1)
    assert m["image_mask"].shape == (1, 32, 32)
    assert bool((m["image_degraded"][m["image_mask"].bool()] == 0).all())
