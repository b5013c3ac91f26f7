"""Med-cDiff evaluation on tiny fakes: every method and setting in the tables, metric values for known cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from monai_synth.engines.med_cdiff.evaluation import (
    PSNR_CAP_DB,
    evaluate_restoration,
    load_heldout,
    quality_row,
)
from monai_synth.engines.med_cdiff.restorer import restore_batches
from monai_synth.transforms.degradation import make_degradation

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SIZE = 32


class OracleRestorer:
    """Returns the clean image of each seed (a perfect restorer)."""

    def __init__(self, task: str, params: dict, clean: torch.Tensor, seeds: list[int]) -> None:
        self.model, self.task, self.degradation = "oracle", task, make_degradation(task, params)
        self.image_size, self.channels, self.intensity = SIZE, 1, {"mode": "auto", "window": None}
        self.checkpoint_sha256, self.description = "0" * 64, f"oracle {task}"
        self.lookup = {s: clean[i] for i, s in enumerate(seeds)}

    def __call__(self, condition: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        return torch.stack([self.lookup[s] for s in seeds])


class PassThrough(OracleRestorer):
    """Returns the degraded image (no restoration)."""

    def __call__(self, condition: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        return self.degradation.image_part(condition)


def _features(x: torch.Tensor) -> np.ndarray:
    return F.adaptive_avg_pool2d(x.float(), 4).flatten(1).numpy()


def _fakes(task: str, params: dict, n: int) -> dict:
    held = load_heldout("", SIZE, 1, {"mode": "auto"}, "test", n, seed=0)
    seeds = [i for i in held.index]  # seed 0: image i uses 0 * 1_000_003 + i
    return {"diffusion": OracleRestorer(task, params, held.images, seeds), "pix2pix": PassThrough(task, params, held.images, seeds)}


def test_quality_row_known_values() -> None:
    x = torch.rand(3, 1, SIZE, SIZE) * 2 - 1
    same = quality_row(x, x, reference_features=_features(x), feature_fn=_features)
    assert same["psnr"] == PSNR_CAP_DB and same["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert same["ms_ssim"] == pytest.approx(1.0, abs=1e-4) and same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert same["lpips"] is None
    shifted = quality_row((x + 0.2).clamp(-1, 1), x)
    mse = ((x + 0.2).clamp(-1, 1) - x).pow(2).flatten(1).mean(1).double()
    assert shifted["psnr"] == pytest.approx(float((10 * torch.log10(4 / mse)).mean()), rel=1e-6)
    assert shifted["fid"] is None and shifted["ssim"] < 1


def test_restore_batches_keeps_order_and_seeds() -> None:
    seen = []

    def fake(cond: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        seen.append(seeds)
        return cond * 2

    out = restore_batches(fake, torch.linspace(-1, 1, 5).reshape(5, 1, 1, 1), [7, 8, 9, 10, 11], batch_size=2, progress=False)
    assert seen == [[7, 8], [9, 10], [11]] and out.max() == 1 and out.min() == -1 and out.shape == (5, 1, 1, 1)


def test_sr_tables_all_methods_settings_and_dice(tmp_path: Path) -> None:
    params = {"factors": [4.0, 8.0]}
    calls = []

    def features(x: torch.Tensor) -> np.ndarray:
        calls.append(1)
        return _features(x)

    result = evaluate_restoration(
        output_dir=str(tmp_path), dataset_dir="", num_images=6, restorers=_fakes("sr", params, 6), feature_fn=features,
        segmenter_images=16, segmenter_epochs=4, progress=False,
    )
    assert set(result["metrics"]) == {"x4", "x8"}
    for rows in result["metrics"].values():
        assert list(rows) == ["degraded", "bilinear", "bicubic", "diffusion", "pix2pix"]
        assert rows["diffusion"]["psnr"] == PSNR_CAP_DB and rows["diffusion"]["ssim"] == pytest.approx(1.0, abs=1e-5)
        assert rows["diffusion"]["fid"] == pytest.approx(0.0, abs=1e-6)
        assert rows["pix2pix"] == pytest.approx(rows["degraded"])  # pass-through = no restoration
        assert rows["bicubic"]["psnr"] == pytest.approx(rows["degraded"]["psnr"])  # sr input is bicubic
        assert rows["degraded"]["psnr"] < 40 and rows["degraded"]["lpips"] is None
    assert result["metrics"]["x8"]["bicubic"]["psnr"] < result["metrics"]["x4"]["bicubic"]["psnr"]
    assert len(calls) == 5  # distinct image sets only: clean, then degraded (= bicubic = pass-through), bilinear
    down = result["downstream"]
    assert down["kind"] == "segmentation" and set(down["clean"]) == {"lung", "heart"}
    assert down["settings"]["x4"]["diffusion"] == pytest.approx(down["clean"])
    written = json.loads((tmp_path / "tables.json").read_text())
    assert written["methods"] == ["degraded", "bilinear", "bicubic", "diffusion", "pix2pix"]
    assert written["metrics"]["x4"]["diffusion"]["psnr"] == PSNR_CAP_DB
    md = (tmp_path / "tables.md").read_text()
    assert "### x4" in md and "### x8" in md and "| bicubic |" in md and "Downstream utility" in md
    assert "n/a" in md  # LPIPS without weights
    assert not list(tmp_path.glob(".*.part"))


def test_denoise_accuracy_and_baselines_only(tmp_path: Path) -> None:
    params = {"noise_levels": [[0.1, 0.05]]}
    result = evaluate_restoration(
        output_dir=str(tmp_path / "d"), num_images=8, restorers=_fakes("denoise", params, 8), fid=False,
        classifier_images=16, classifier_epochs=1, progress=False,
    )
    assert list(result["metrics"]) == ["noise0.1_sp0.05"]
    rows = result["metrics"]["noise0.1_sp0.05"]
    assert list(rows) == ["degraded", "diffusion", "pix2pix"] and rows["diffusion"]["fid"] is None
    down = result["downstream"]
    assert down["kind"] == "classification" and 0 <= down["clean"] <= 1
    assert down["settings"]["noise0.1_sp0.05"]["diffusion"] == down["clean"]
    # no trained models: the sr baselines alone, downstream off
    alone = evaluate_restoration(
        checkpoint_dir=str(tmp_path / "none"), output_dir=str(tmp_path / "b"), task="sr", degradation={"factors": [4]},
        image_size=SIZE, num_images=4, fid=False, downstream=False, progress=False,
    )
    assert list(alone["metrics"]["x4"]) == ["degraded", "bilinear", "bicubic"]
    assert alone["downstream"] == {"skipped": "turned off (downstream=false)"}
    with pytest.raises(ValueError, match="give task"):
        evaluate_restoration(checkpoint_dir=str(tmp_path / "none"), output_dir=str(tmp_path / "c"), progress=False)


def test_inpaint_table(tmp_path: Path) -> None:
    result = evaluate_restoration(output_dir=str(tmp_path), num_images=4, restorers=_fakes("inpaint", {}, 4),
                                  fid=False, progress=False)
    rows = result["metrics"]["inpaint"]
    assert rows["diffusion"]["ssim"] == pytest.approx(1.0, abs=1e-5) and rows["degraded"]["ssim"] < 1
    assert "skipped" in result["downstream"]


def test_pneumoniamnist_heldout_is_the_test_split() -> None:
    npz = DATA / "pneumoniamnist" / "pneumoniamnist_28.npz"
    if not npz.is_file():
        pytest.skip(f"{npz} not present")
    held = load_heldout(str(npz), 28, 1, {"mode": "auto"}, "test", 20, seed=0)
    raw = np.load(npz)["test_images"]
    assert held.images.shape == (20, 1, 28, 28) and held.masks is None
    first = torch.from_numpy(raw[held.index[0]].astype(np.float32)) / 127.5 - 1
    assert torch.allclose(held.images[0, 0], first, atol=1e-5)
    assert set(held.labels.tolist()) == {0, 1}


def test_split_is_held_out(tmp_path: Path) -> None:
    from PIL import Image

    from monai_synth.engines.med_cdiff.evaluation import split_is_held_out

    assert split_is_held_out("", "test")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    assert not split_is_held_out(str(tmp_path), "test")
    npz = DATA / "pneumoniamnist" / "pneumoniamnist_28.npz"
    if npz.is_file():
        assert split_is_held_out(str(npz), "test")


def test_degradation_override_takes_the_models_task(tmp_path: Path) -> None:
    result = evaluate_restoration(
        output_dir=str(tmp_path), dataset_dir="", num_images=4, restorers=_fakes("sr", {"factors": [4.0, 8.0]}, 4),
        degradation={"factors": [8.0]}, fid=False, downstream=False, progress=False,
    )
    assert result["task"] == "sr" and set(result["metrics"]) == {"x8"}
