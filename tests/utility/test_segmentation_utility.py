"""The segmentation utility study of a restorer (Med-cDiff), with a fake restorer so that only the protocol is
tested: the restored set is the restorer's output on the degraded training images, every network is tested on
the real clean test images, an interrupted study continues, the scores agree with an independent computation,
bad input gives one clear message, and NIfTI image/mask pairs are read."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from scipy import ndimage
from scipy.spatial.distance import cdist

from monai_synth.cli import main
from monai_synth.data.errors import DataError
from monai_synth.downstream.segmentation import phantom_segmentation_set
from monai_synth.metrics.utility.segmentation import paired_seed_difference, seed_summary, segmentation_per_image
from monai_synth.transforms.degradation import make_degradation
from monai_synth.utility import segmentation_study as study_module
from monai_synth.utility.segmentation_data import read_segmentation_pairs
from monai_synth.utility.segmentation_study import SETTINGS, SegmentationUtilityStudy

SIZE = 16
TINY = {"phantom_count": 6, "seeds": [0], "epochs": 1, "batch_size": 4, "num_bootstrap": 20, "gallery": 2,
        "progress": False, "device": "cpu"}  # fmt: skip


class FakeRestorer:
    """sr x2 at 16 px; "restores" by negating the degraded image (so restored != degraded), recording its calls."""

    task, image_size, channels, model = "sr", SIZE, 1, "fake"
    intensity = {"mode": "auto", "window": None}
    checkpoint_sha256, description = "0" * 64, "fake restorer (negation)"

    def __init__(self) -> None:
        self.degradation = make_degradation("sr", {"factors": [2.0]})
        self.calls: list[tuple[torch.Tensor, list[int]]] = []

    def __call__(self, condition: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        self.calls.append((condition.clone(), list(seeds)))
        return -condition


def _study(restorer, out: Path, real="", **extra) -> SegmentationUtilityStudy:
    return SegmentationUtilityStudy(restorer, real, out, **{**TINY, **extra})


# ------------------------------------------------------------------------------------------------ protocol


def test_networks_train_on_real_restored_and_degraded_images_and_test_on_real_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    trained, tested = [], []
    train_original, predict_original = study_module.train_segmenter, study_module.predict_segmentation

    def train(images, labels, **kwargs):
        trained.append((images.clone(), labels.clone(), kwargs["seed"]))
        return train_original(images, labels, **kwargs)

    def predict(net, images, *args):
        tested.append(images.clone())
        return predict_original(net, images, *args)

    monkeypatch.setattr(study_module, "train_segmenter", train)
    monkeypatch.setattr(study_module, "predict_segmentation", predict)
    restorer = FakeRestorer()
    metrics = _study(restorer, tmp_path / "out", seeds=[3, 4]).run()

    train_images, train_masks = phantom_segmentation_set(6, SIZE, 0, "train")
    test_images, _ = phantom_segmentation_set(6, SIZE, 0, "test")
    setting = restorer.degradation.settings()[0]
    seeds = [i for i in range(6)]  # restore_seed 0: image i gets seed i
    condition = restorer.degradation.fixed(train_images, setting, seeds)
    degraded = restorer.degradation.image_part(condition).clamp(-1, 1)
    restored = (-condition).clamp(-1, 1)
    assert torch.equal(restorer.calls[0][0], condition) and restorer.calls[0][1] == seeds  # train images, seeded
    assert not torch.equal(restored, degraded)
    expected = {"real": train_images, "restored": restored, "degraded": degraded}
    assert len(trained) == 6  # three training sets x two seeds
    for k, (images, masks, seed) in enumerate(trained):
        name = SETTINGS[k // 2]
        assert torch.allclose(images, expected[name]) and torch.equal(masks, train_masks)  # always the real masks
        assert seed == [3, 4][k % 2]
    assert len(tested) == 6 and all(torch.equal(t, test_images) for t in tested)  # always the clean test images
    assert metrics["complete"] and metrics["structures"] == ["lung", "heart"]
    assert metrics["n_real_train"] == 6 and metrics["n_real_test"] == 6
    assert metrics["study"]["degradation_setting"]["name"] == setting["name"]
    lung = metrics["settings"]["real"]["lung"]["dice"]
    assert len(lung["per_seed"]) == 2 and lung["min"] <= lung["mean"] <= lung["max"]
    assert set(metrics["differences"]) == {"restored - real", "restored - degraded"}
    report = (tmp_path / "out" / "report.html").read_text()
    assert "HD95" in report and "data:image/png;base64" in report


def test_interrupted_study_continues_and_keeps_finished_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    original = SegmentationUtilityStudy.run_cell
    calls: list[str] = []

    def stop_after_two(self, name, seed, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(f"{name}/{seed}")
        return original(self, name, seed, *args, **kwargs)

    monkeypatch.setattr(SegmentationUtilityStudy, "run_cell", stop_after_two)
    restorer = FakeRestorer()
    settings = {"seeds": [0, 1]}
    with pytest.raises(KeyboardInterrupt):
        _study(restorer, out, **settings).run()
    assert not (out / "metrics.json").exists() and not (out / "report.html").exists()  # nothing looks complete
    assert len(list((out / "cells").glob("*.json"))) == 2 and not list((out / "cells").glob(".*"))
    assert len(restorer.calls) == 2  # train images and the gallery's test images, once each

    calls.clear()

    def record(self, name, seed, *args, **kwargs):
        calls.append(f"{name}/{seed}")
        return original(self, name, seed, *args, **kwargs)

    monkeypatch.setattr(SegmentationUtilityStudy, "run_cell", record)
    first = _study(restorer, out, **settings).run()
    assert len(calls) == 4 and first["complete"]  # the two finished cells were not trained again
    assert len(restorer.calls) == 2  # the restorations were reused from restored/

    calls.clear()
    again = _study(restorer, out, **settings).run()
    assert calls == [] and again["settings"] == first["settings"]

    _study(restorer, out, **{**settings, "epochs": 2}).run()  # another budget: every cell again, none mixed in
    assert len(calls) == 6


def test_interrupted_restoration_continues_with_the_batches_not_restored_yet(tmp_path: Path) -> None:
    class Interrupted(FakeRestorer):
        def __call__(self, condition, seeds):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().__call__(condition, seeds)

    out, settings = tmp_path / "out", {"restore_batch_size": 2}  # 6 training images: 3 batches, then the gallery
    with pytest.raises(KeyboardInterrupt):
        _study(Interrupted(), out, **settings).run()
    assert len(list(out.glob("restored/partial_*/*.npy"))) == 2 and not (out / "restored" / "restored.npz").exists()
    restorer = FakeRestorer()
    resumed = _study(restorer, out, **settings).run()
    assert [c[1] for c in restorer.calls] == [[4, 5], [0, 1]]  # the last training batch, then the gallery
    assert not list(out.glob("restored/partial_*")) and (out / "restored" / "restored.npz").is_file()
    whole = _study(FakeRestorer(), tmp_path / "whole", **settings).run()  # uninterrupted: the same figures
    assert resumed["settings"] == whole["settings"]


# ------------------------------------------------------------------------------------------------ metrics


def _hd95_by_hand(pred: np.ndarray, truth: np.ndarray) -> float:
    """95th percentile of the boundary-to-boundary distances, the larger direction (scipy, not MONAI)."""
    def edges(m):
        return np.argwhere(m & ~ndimage.binary_erosion(m))

    d = cdist(edges(pred), edges(truth))
    return max(np.percentile(d.min(axis=1), 95), np.percentile(d.min(axis=0), 95))


def test_dice_and_hd95_agree_with_an_independent_computation() -> None:
    truth = np.zeros((4, 1, 16, 16), np.int64)
    pred = np.zeros_like(truth)
    truth[:, 0, 2:6, 2:6] = 1  # a 4 x 4 lung square on every image
    pred[0, 0, 3:7, 2:6] = 1  # image 0: shifted one row -> Dice 12 * 2 / 32
    pred[1, 0, 2:10, 2:9] = 1  # image 1: larger blob
    truth[1, 0, 9:14, 9:13] = 2  # image 1: a heart the network misses -> HD95 = diagonal
    pred[2, 0, 2:6, 2:6] = 1  # image 2: exact
    pred[3, 0, 12:15, 12:15] = 2  # image 3: no lung predicted; a heart where there is none
    scores = segmentation_per_image(torch.from_numpy(pred), torch.from_numpy(truth), 2)
    dice, hd = scores["dice"], scores["hd95"]
    assert dice[0, 0] == pytest.approx(0.75) and dice[2, 0] == pytest.approx(1.0) and dice[3, 0] == 0.0
    assert dice[1, 0] == pytest.approx(2 * 16 / (16 + 56))
    for i in (0, 1, 2):
        assert hd[i, 0] == pytest.approx(_hd95_by_hand(pred[i, 0] == 1, truth[i, 0] == 1), abs=1e-6)
    assert hd[0, 0] == pytest.approx(1.0)
    diagonal = np.hypot(16, 16)
    assert hd[1, 1] == pytest.approx(diagonal) and hd[3, 0] == pytest.approx(diagonal)  # missed: the diagonal
    assert scores["empty_prediction"].tolist() == [[False, False], [False, True], [False, False], [True, False]]
    assert np.isnan(dice[[0, 2, 3], 1]).all() and np.isnan(hd[[0, 2, 3], 1]).all()  # no heart in the truth

    per_seed = [[0.5, 0.7, None, 0.9], [0.6, 0.6, None, 0.7]]  # image 2 has no value for any seed
    s = seed_summary(per_seed, num_resamples=200, seed=1)
    means = [np.mean([0.5, 0.7, 0.9]), np.mean([0.6, 0.6, 0.7])]
    assert s["mean"] == pytest.approx(np.mean(means)) and s["std"] == pytest.approx(np.std(means, ddof=1))
    assert s["min"] == pytest.approx(min(means)) and s["max"] == pytest.approx(max(means)) and s["n_images"] == 3
    per_image = np.mean([[0.5, 0.7, 0.9], [0.6, 0.6, 0.7]], axis=0)
    assert per_image.min() - 1e-12 <= s["ci"][0] <= s["mean"] <= s["ci"][1] <= per_image.max() + 1e-12
    assert seed_summary(per_seed, num_resamples=0)["ci"] is None
    d = paired_seed_difference(per_seed, [[0.5, 0.5, None, 0.5]] * 2, num_resamples=0)
    assert d["value"] == pytest.approx(np.mean(per_image - 0.5)) and d["n_images"] == 3


# ------------------------------------------------------------------------------------------------ NIfTI pairs


def _write_pairs(folder: Path, count: dict[str, int], size: int = 20, mask_size: int | None = None,
                 extra_label: int | None = None, columns: str = "image,mask,split") -> Path:  # fmt: skip
    """NIfTI image/mask pairs: a bright square (label 1) and a dark bar (label 2) on noise; a CSV datalist."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = [columns]
    k = 0
    for split, n in count.items():
        for _ in range(n):
            mask = np.zeros((size, size), np.uint8)
            r, c = rng.integers(2, 8, 2)
            mask[r : r + 6, c : c + 6] = 1
            mask[14:17, 3:17] = 2
            if extra_label is not None and split == "test":
                mask[0, 0] = extra_label
            image = rng.normal(100, 5, (size, size)) + 200 * (mask == 1) - 60 * (mask == 2)
            ms = mask_size or size
            nib.save(nib.Nifti1Image(image.astype(np.float32), np.eye(4)), folder / f"case{k}.nii.gz")
            nib.save(nib.Nifti1Image(mask[:ms, :ms], np.eye(4)), folder / f"case{k}_mask.nii.gz")
            rows.append({"image,mask,split": f"case{k}.nii.gz,case{k}_mask.nii.gz,{split}",
                         "image,split": f"case{k}.nii.gz,{split}"}[columns])
            k += 1
    (folder / "pairs.csv").write_text("\n".join(rows) + "\n")
    return folder / "pairs.csv"


def test_nifti_image_mask_pairs(tmp_path: Path) -> None:
    datalist = _write_pairs(tmp_path / "data", {"train": 6, "test": 4})
    pairs = read_segmentation_pairs(datalist, "train", SIZE)
    assert pairs.images.shape == (6, 1, SIZE, SIZE) and pairs.masks.shape == (6, 1, SIZE, SIZE)
    assert pairs.masks.unique().tolist() == [0, 1, 2] and pairs.images.min() >= -1 and pairs.images.max() <= 1
    image, mask = pairs.images[:, 0], pairs.masks[:, 0]
    assert image[mask == 1].mean() > image[mask == 0].mean() > image[mask == 2].mean()  # image and mask aligned

    metrics = _study(FakeRestorer(), tmp_path / "out", real=str(datalist)).run()
    assert metrics["structures"] == ["label1", "label2"] and metrics["real"] == str(datalist)
    assert metrics["n_real_train"] == 6 and metrics["n_real_test"] == 4
    named = _study(FakeRestorer(), tmp_path / "named", real=str(datalist), structures=["square", "bar"]).run()
    assert set(named["settings"]["real"]) == {"square", "bar"}


# ------------------------------------------------------------------------------------------------ bad input


def _error(capsys: pytest.CaptureFixture, source: Path, real: Path | str, out: Path) -> str:
    argv = ["utility", str(source), "--real", str(real), "--out", str(out), "--seeds", "0", "--epochs", "1",
            "--device", "cpu"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (out / "metrics.json").exists()
    return err


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    """A folder that looks like a Med-cDiff run but whose final.pt is damaged."""
    run = tmp_path / "run"
    (run / "diffusion").mkdir(parents=True)
    (run / "diffusion" / "final.pt").write_bytes(b"not a checkpoint")
    return run


def test_bad_restorer_folder(tmp_path: Path, fake_run: Path, capsys: pytest.CaptureFixture) -> None:
    err = _error(capsys, fake_run, "", tmp_path / "out")
    assert err.startswith(f"error: {fake_run}: cannot load the diffusion restorer")
    with pytest.raises(DataError, match="not a Med-cDiff run folder"):
        _study(tmp_path, tmp_path / "out2").run()
    with pytest.raises(DataError, match="no such Med-cDiff run folder"):
        _study(tmp_path / "nothing", tmp_path / "out3").run()
    with pytest.raises(DataError, match="has no setting 'x9'"):
        _study(FakeRestorer(), tmp_path / "out4", setting="x9").run()
    with pytest.raises(DataError, match=r"phantom masks hold labels 1..2 \(lung, heart\) but the study names 1"):
        _study(FakeRestorer(), tmp_path / "out5", structures=["lung"]).run()


@pytest.mark.parametrize("case", ["no_mask_column", "shape", "label_range", "non_integer", "empty_folder",
                                  "missing", "empty_split"])
def test_bad_pairs_name_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    data = tmp_path / "data"
    if case == "no_mask_column":
        source, match = _write_pairs(data, {"train": 2, "test": 1}, columns="image,split"), "have no mask"
    elif case == "shape":
        source = _write_pairs(data, {"train": 2, "test": 1}, mask_size=12)
        match = r"case0_mask.nii.gz has shape \(12, 12, 1\), the image \(20, 20, 1\)"
    elif case == "label_range":
        source, match = _write_pairs(data, {"train": 2, "test": 1}, extra_label=5), "label 5, outside 0..2"
    elif case == "non_integer":
        source = _write_pairs(data, {"train": 2, "test": 1})
        nib.save(nib.Nifti1Image(np.full((20, 20), 0.5, np.float32), np.eye(4)), data / "case0_mask.nii.gz")
        match = "non-integer values"
    elif case == "empty_folder":
        source, match = data, "the folder is empty"
        data.mkdir()
    elif case == "missing":
        source, match = data / "pairs.csv", "no such file or folder"
    else:
        source, match = _write_pairs(data, {"train": 2}), "no entries with split 'test'"
    with pytest.raises(DataError, match=match) as caught:
        _study(FakeRestorer(), tmp_path / "out", real=str(source)).run()
    named = {"label_range": "case2_mask.nii.gz", "non_integer": "case0_mask.nii.gz"}
    assert str(caught.value.path).startswith(str(data)) and named.get(case, "") in str(caught.value)
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_cli_reports_bad_pairs_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    source = _write_pairs(tmp_path / "data", {"train": 2, "test": 1}, mask_size=12)
    monkeypatch.setattr(study_module.SegmentationUtilityStudy, "open_restorer", lambda self: FakeRestorer())
    monkeypatch.setattr("monai_synth.utility.command.is_restorer", lambda path: True)
    err = _error(capsys, tmp_path, source, tmp_path / "out")
    assert "case0_mask.nii.gz has shape (12, 12, 1), the image (20, 20, 1)" in err


def test_cli_runs_the_segmentation_study_for_a_restorer(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    seen = {}

    def fake_open(self):
        seen.update(batch_size=self.training["batch_size"], lr=self.training["lr"], sampling=self.sampling,
                    phantom_count=self.phantom_count)  # fmt: skip
        return FakeRestorer()

    monkeypatch.setattr(study_module.SegmentationUtilityStudy, "open_restorer", fake_open)
    monkeypatch.setattr("monai_synth.utility.command.is_restorer", lambda path: True)
    out = tmp_path / "out"
    argv = ["utility", str(tmp_path / "run"), "--real", "", "--out", str(out), "--seeds", "0", "--epochs", "1",
            "--phantom-count", "6", "--bootstrap", "20", "--strength", "0.5", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "trained on restored" in printed and "metrics.json" in printed
    assert seen == {"batch_size": 16, "lr": 0.01, "phantom_count": 6,  # the segmentation study's own defaults
                    "sampling": {"sampler": "ddim", "steps": 50, "eta": 1.0, "strength": 0.5}}
    assert json.loads((out / "metrics.json").read_text())["complete"]
