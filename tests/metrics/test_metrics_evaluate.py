"""evaluate(): sources the data layer reads, labels from manifests, metrics.json and report.html."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import StubExtractor, make_images
from PIL import Image

from monai_synth.io.manifest import ManifestWriter
from monai_synth.metrics.evaluate import evaluate, run_evaluate_cli
from monai_synth.metrics.image_sets import condition_label, load_image_set, read_labels, to_symmetric

evaluate_module = importlib.import_module("monai_synth.metrics.evaluate")
REQUIRED = ("fid", "kid_mean", "kid_std", "precision", "recall", "ms_ssim_fake", "ms_ssim_real", "n_real", "n_fake")


def _write_npz(path: Path, count: int = 24, size: int = 28) -> Path:
    images = ((make_images(count, size, seed=10)[:, 0] + 1) * 127.5).round().byte().numpy()
    labels = (np.arange(count) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(path, train_images=images, train_labels=labels, test_images=images[:8], test_labels=labels[:8])
    return path


def _write_samples(folder: Path, count: int = 20, size: int = 28) -> Path:
    """A sampler-like output folder: PNGs plus manifest.jsonl with the condition class."""
    folder.mkdir(parents=True)
    images = ((make_images(count, size, seed=11)[:, 0] + 1) * 127.5).round().byte().numpy()
    with ManifestWriter(folder) as manifest:
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"sample_{i:03d}.png")
            manifest.write(folder / f"sample_{i:03d}.png", model="test", seed=i, condition={"class_label": i % 2})
    return folder


def test_evaluate_folder_against_npz(tmp_path: Path) -> None:
    real, fake = _write_npz(tmp_path / "real.npz"), _write_samples(tmp_path / "samples")
    stub = StubExtractor()
    out = tmp_path / "eval"
    metrics = evaluate(real, fake, out, real_split="train", extractor=stub, cache_dir=tmp_path / "cache", num_bootstrap=5,
                       kid_subsets=5, ms_ssim_pairs=20, progress=False)  # fmt: skip
    assert all(metrics[key] is not None for key in REQUIRED)
    assert metrics["n_real"] == 24 and metrics["n_fake"] == 20
    assert metrics["fid_ci"][0] <= metrics["fid_ci"][1] and len(metrics["precision_ci"]) == 2
    assert set(metrics["per_class"]) == {"0", "1"}  # fake labels from manifest.jsonl, real from the npz
    assert metrics["per_class"]["0"]["n_fake"] == 10 and metrics["per_class"]["1"]["n_real"] == 12
    assert metrics["settings"]["ms_ssim"]["kernel_size"] == 7
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["fid"] == metrics["fid"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 2 + 6 * 4 and "Nearest real neighbours" in page
    assert "[" in page and "FID" in page and not list(out.glob(".*.part"))
    # the real features were cached: a second run featurises only the synthetic set
    calls = stub.calls
    evaluate(real, fake, out, real_split="train", extractor=stub, cache_dir=tmp_path / "cache", num_bootstrap=0, kid_subsets=2,
             ms_ssim_pairs=5, progress=False)  # fmt: skip
    assert stub.calls == calls + 1


def test_evaluate_tensors_with_label_arrays(tmp_path: Path) -> None:
    real, fake = make_images(16, 32, seed=1), make_images(12, 32, seed=2)
    metrics = evaluate(real, fake, tmp_path, labels_real=[0] * 8 + [1] * 8, labels_fake=[1] * 12,
                       extractor=StubExtractor(), use_cache=False, num_bootstrap=3, kid_subsets=3,
                       ms_ssim_pairs=10, progress=False)  # fmt: skip
    assert set(metrics["per_class"]) == {"1"}
    same = evaluate(real, real, tmp_path / "same", extractor=StubExtractor(), use_cache=False, num_bootstrap=0,
                    kid_subsets=3, ms_ssim_pairs=10, progress=False)  # fmt: skip
    assert abs(same["fid"]) < 1e-6 and same["precision"] == same["recall"] == 1.0 and same["per_class"] == {}


def test_cli_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(evaluate_module, "InceptionFeatureExtractor", lambda *a, **k: StubExtractor())
    real, fake = _write_npz(tmp_path / "real.npz"), _write_samples(tmp_path / "samples")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(str(i % 3) for i in range(20)))
    args = argparse.Namespace(real=str(real), fake=str(fake), out=str(tmp_path / "o"), labels_real=None,
                              labels_fake=str(labels), batch_size=None, device="cpu", bootstrap=2)  # fmt: skip
    monkeypatch.setenv("MONAI_SYNTH_CACHE_DIR", str(tmp_path / "cache"))
    assert run_evaluate_cli(args) == 0
    printed = capsys.readouterr().out
    assert '"fid"' in printed and "report.html" in printed
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"0", "1"}  # class 2 has no real images


def test_read_labels_forms(tmp_path: Path) -> None:
    entries = [{"image": str(tmp_path / f"a{i}.png")} for i in range(3)]
    (tmp_path / "l.csv").write_text("image,label\na2.png,5\na0.png,3\na1.png,4\n")
    assert read_labels(tmp_path / "l.csv", entries) == [3, 4, 5]
    np.save(tmp_path / "l.npy", np.array([1, 2, 3]))
    assert read_labels(tmp_path / "l.npy", entries) == [1, 2, 3]
    (tmp_path / "m.jsonl").write_text('{"file": "a1.png", "condition": {"class_label": 7}}\n')
    assert read_labels(tmp_path / "m.jsonl", entries) == [None, 7, None]
    (tmp_path / "short.txt").write_text("1\n2\n")
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        read_labels(tmp_path / "short.txt", entries)
    assert condition_label(2) == 2 and condition_label({"label": 1}) == 1 and condition_label({"source": "x"}) is None


def test_to_symmetric_rules() -> None:
    eight_bit = torch.tensor([[[0.0, 255.0]]])
    assert to_symmetric(eight_bit, {"value_range": (0, 255)}).tolist() == [[[-1.0, 1.0]]]
    hu = torch.tensor([[[-1000.0, 40.0, 240.0]]])
    out = to_symmetric(hu, {"value_range": None, "window_center": 40, "window_width": 400})
    assert out.tolist() == [[[-1.0, 0.0, 1.0]]]
    ramp = torch.linspace(0, 1000, 1001).reshape(1, 1, -1)
    out = to_symmetric(ramp, {})
    assert out.min() == -1 and out.max() == 1 and abs(float(out[0, 0, 500])) < 1e-6


def test_load_image_set_rejects_bad_arrays() -> None:
    with pytest.raises(ValueError, match="N, C, H, W"):
        load_image_set(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="no image source"):
        load_image_set("", name="real")


def test_manifest_labels_beat_class_folder_indices(tmp_path: Path) -> None:
    folder = tmp_path / "samples"
    (folder / "class_1").mkdir(parents=True)
    with ManifestWriter(folder) as manifest:
        for i in range(3):
            Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(folder / "class_1" / f"{i}.png")
            manifest.write(folder / "class_1" / f"{i}.png", condition={"class_label": 1})
    images = load_image_set(folder, name="fake")
    assert images.labels == [1, 1, 1]  # the class-folder index would be 0
    assert len(images) == 3 and images[2].shape == (1, 16, 16) and float(images[0].min()) == -1.0
