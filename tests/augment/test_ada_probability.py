"""ADA controller: p rises when the discriminator overfits (r_t > target) and falls otherwise, at the paper's speed."""

from __future__ import annotations

import pytest
import torch

from monai_synth.augment import AdaptiveAugmentPipeline, AdaptiveAugmentProbability
from monai_synth.networks.stylegan2 import StyleGAN2Discriminator


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def overfitted_discriminator(reals: torch.Tensor, steps: int = 40) -> StyleGAN2Discriminator:
    """A tiny D trained to tell 8 fixed training images from noise: it memorises them (D(real) > 0)."""
    torch.manual_seed(0)
    d = StyleGAN2Discriminator(8, 1, 0, channel_base=64, channel_max=8)
    opt = torch.optim.Adam(d.parameters(), lr=0.01)
    for _ in range(steps):
        fakes = torch.randn_like(reals)
        loss = torch.nn.functional.softplus(-d(reals)).mean() + torch.nn.functional.softplus(d(fakes)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return d


@pytest.fixture(scope="module")
def memorised() -> tuple[torch.Tensor, StyleGAN2Discriminator]:
    torch.manual_seed(1)
    reals = torch.rand(8, 1, 8, 8) * 0.2 - 0.9
    return reals, overfitted_discriminator(reals)


def test_p_increases_on_an_overfitting_discriminator(memorised) -> None:
    reals, d = memorised
    pipe = AdaptiveAugmentPipeline(p=0.0)
    ada = AdaptiveAugmentProbability(pipe, target=0.6, interval_images=16, speed_kimg=1.0)
    with torch.no_grad():
        rts = [ada.update(d(pipe(reals))) for _ in range(6)]
    assert [r for r in rts if r is not None] and all(r > 0.6 for r in rts if r is not None)
    assert ada.p == pytest.approx(3 * 16 / 1000.0)  # 3 intervals of 16 images at 1 kimg per unit of p


def test_p_decreases_when_the_discriminator_does_not_overfit(memorised) -> None:
    _, d = memorised
    pipe = AdaptiveAugmentPipeline(p=0.5)
    ada = AdaptiveAugmentProbability(pipe, target=0.6, interval_images=16, speed_kimg=1.0)
    with torch.no_grad():
        unseen = torch.randn(8, 1, 8, 8)  # images it rejects: r_t < target
        for _ in range(6):
            ada.update(d(unseen))
    assert ada.last_rt is not None and ada.last_rt < 0.6
    assert ada.p == pytest.approx(0.5 - 3 * 16 / 1000.0)


def test_paper_speed_and_clamping() -> None:
    pipe = AdaptiveAugmentPipeline()
    ada = AdaptiveAugmentProbability(pipe, target=0.6, interval_images=256, speed_kimg=500.0)
    for _ in range(2000):  # 512k images of a fully overfitted D: p saturates at 1 after 500k
        ada.update(torch.ones(256))
    assert ada.p == 1.0
    for _ in range(3):
        ada.update(-torch.ones(256))
    assert ada.p == pytest.approx(1.0 - 3 * 256 / 500_000)


def test_target_none_measures_but_keeps_p() -> None:
    pipe = AdaptiveAugmentPipeline(p=0.2)
    ada = AdaptiveAugmentProbability(pipe, target=None, interval_images=4)
    assert ada.update(torch.tensor([1.0, 1.0, -1.0, 1.0])) == 0.5
    assert ada.p == pytest.approx(0.2)


def test_state_dict_round_trip() -> None:
    ada = AdaptiveAugmentProbability(AdaptiveAugmentPipeline(), interval_images=100, speed_kimg=0.1)
    ada.update(torch.ones(150))
    ada.update(torch.ones(30))
    other = AdaptiveAugmentProbability(AdaptiveAugmentPipeline(), interval_images=100)
    other.load_state_dict(ada.state_dict())
    assert other.p == ada.p > 0 and other.count == 30 and other.sign_sum == 30.0


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="target"):
        AdaptiveAugmentProbability(AdaptiveAugmentPipeline(), target=1.5)
    with pytest.raises(ValueError, match="interval_images"):
        AdaptiveAugmentProbability(AdaptiveAugmentPipeline(), interval_images=0)
