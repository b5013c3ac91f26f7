"""MS-SSIM settings and diversity, restoration metrics, acutance and the local-only LPIPS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_images
from monai.metrics import MultiScaleSSIMMetric

from monai_synth.metrics.diversity import mean_pairwise_ms_ssim, pairwise_ms_ssim, random_pairs
from monai_synth.metrics.lpips import LPIPS_BACKBONE_ENV, LPIPS_LIN_ENV, LpipsAlex, LpipsWeightsError, lpips_distance
from monai_synth.metrics.restoration import acutance, psnr, restoration_metrics
from monai_synth.metrics.ssim import MS_SSIM_WEIGHTS, ms_ssim_pairs, ms_ssim_settings, ssim_pairs


def test_ms_ssim_settings_table() -> None:
    assert ms_ssim_settings(256, 256) == (11, MS_SSIM_WEIGHTS)
    assert ms_ssim_settings(176, 300) == (11, MS_SSIM_WEIGHTS)
    kernel, weights = ms_ssim_settings(64, 64)
    assert kernel == 11 and len(weights) == 3 and sum(weights) == pytest.approx(1.0)
    assert weights == pytest.approx((0.0710, 0.4530, 0.4760), abs=1e-4)
    assert ms_ssim_settings(28, 28)[0] == 7
    assert ms_ssim_settings(12, 12)[0] == 3
    with pytest.raises(ValueError, match="at least 12"):
        ms_ssim_settings(11, 64)


def test_ms_ssim_is_monai_standard_at_large_sizes() -> None:
    x, y = make_images(2, 192, seed=0), make_images(2, 192, seed=1)
    expected = MultiScaleSSIMMetric(spatial_dims=2, data_range=1.0, reduction="none")((x + 1) / 2, (y + 1) / 2)
    torch.testing.assert_close(ms_ssim_pairs(x, y), expected.reshape(-1))


@pytest.mark.parametrize("size", [28, 64])
def test_ms_ssim_small_images(size: int) -> None:
    x, y = make_images(3, size, seed=0), make_images(3, size, seed=1)
    assert torch.allclose(ms_ssim_pairs(x, x), torch.ones(3))
    values = ms_ssim_pairs(x, y)
    assert values.shape == (3,) and torch.all(values < 0.99)
    assert torch.allclose(ssim_pairs(x, x), torch.ones(3))


def test_random_pairs_are_distinct_and_seeded() -> None:
    pairs = random_pairs(5, 500, seed=3)
    assert np.all(pairs[:, 0] != pairs[:, 1]) and pairs.min() == 0 and pairs.max() == 4
    np.testing.assert_array_equal(pairs, random_pairs(5, 500, seed=3))
    with pytest.raises(ValueError):
        random_pairs(1, 3)


def test_diversity_orders_sets() -> None:
    diverse = make_images(12, 32, seed=4)
    collapsed = diverse[:1].repeat(12, 1, 1, 1) + 0.01 * make_images(12, 32, seed=5)
    assert mean_pairwise_ms_ssim(collapsed.clamp(-1, 1), 40) > 0.95 > mean_pairwise_ms_ssim(diverse, 40)
    assert pairwise_ms_ssim(list(diverse), 30, seed=1).tolist() == pairwise_ms_ssim(diverse, 30, seed=1).tolist()
    with pytest.raises(ValueError, match="one size"):
        pairwise_ms_ssim([diverse[0], diverse[1, :, :16, :16]], 5)


def test_psnr_known_value() -> None:
    x = torch.zeros(1, 1, 4, 4)
    y = x + 0.2  # MSE 0.04, range 2: 10 log10(4 / 0.04) = 20 dB
    assert psnr(x, y).item() == pytest.approx(20.0)
    assert psnr(x, x).item() == float("inf")


def test_acutance_definition_and_ordering() -> None:
    assert acutance(torch.zeros(1, 1, 8, 8)).item() == 0.0
    edge = -torch.ones(1, 1, 8, 8)
    edge[..., 4:] = 1.0  # unit contrast on [0, 1]; central differences give 0.5 on two columns
    assert acutance(edge).item() == pytest.approx(2 * 8 * 0.5**2 / 64)
    sharp = make_images(2, 32, seed=6)
    blurred = torch.nn.functional.avg_pool2d(sharp, 5, 1, 2, count_include_pad=False)
    assert torch.all(acutance(sharp) > acutance(blurred))


def test_restoration_metrics_skip_lpips_with_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LPIPS_BACKBONE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", "/nonexistent-torch-home")
    x = make_images(2, 32, seed=7)
    out = restoration_metrics(x, (x + 0.05).clamp(-1, 1))
    assert out["lpips"] is None and LPIPS_BACKBONE_ENV in out["lpips_skipped"] and "downloaded" in out["lpips_skipped"]
    assert out["psnr"] > 20 and 0.9 < out["ssim"] <= 1 and 0.9 < out["ms_ssim"] <= 1
    monkeypatch.setenv(LPIPS_BACKBONE_ENV, "/nonexistent/alexnet.pth")
    with pytest.raises(LpipsWeightsError, match="not a file"):
        lpips_distance(x, x)


def test_lpips_runs_from_local_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = LpipsAlex()
    backbone, lin = tmp_path / "alexnet.pth", tmp_path / "alex.pth"
    torch.save({f"features.{k}": v for k, v in model.features.state_dict().items()}, backbone)
    torch.save({f"lin{i}.model.1.weight": layer.weight.abs() for i, layer in enumerate(model.lins)}, lin)
    monkeypatch.setenv(LPIPS_BACKBONE_ENV, str(backbone))
    monkeypatch.setenv(LPIPS_LIN_ENV, str(lin))
    x, y = make_images(2, 64, seed=8), make_images(2, 64, seed=9)
    assert torch.allclose(lpips_distance(x, x), torch.zeros(2))
    d = lpips_distance(x, y)
    assert d.shape == (2,) and torch.all(d > 0)
    assert restoration_metrics(x, y)["lpips"] == pytest.approx(float(d.mean()))
