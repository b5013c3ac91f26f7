"""A run folder records its settings and dataset; a rerun with other data or settings is refused, saying what differs."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest
from monai.bundle import run
from PIL import Image

from monai_synth.engines.run_record import RunFolderMismatchError, check_run_record, dataset_fingerprint

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = {
    "image_size": 16, "batch_size": 4, "autoencoder_batch_size": 4, "autoencoder_epochs": 1, "diffusion_epochs": 1,
    "adversarial_start_epoch": 0, "precision": "fp32", "autoencoder_precision": "fp32", "channels_last": False,
    "autoencoder_def#channels": [8, 16], "autoencoder_def#norm_num_groups": 8, "autoencoder_def#latent_channels": 2,
    "discriminator_def#channels": 8, "unet_def#channels": [16, 32], "unet_def#attention_levels": [False, False],
    "unet_def#norm_num_groups": 8, "unet_def#num_head_channels": 8, "noise_schedule#num_steps": 20, "sample#steps": 1,
    "sample#per_class": 1, "checkpoint_every": 1, "log_every": 1, "device": "cpu", "evaluation#interval": 0,
}  # fmt: skip


def _chain(error: BaseException | None) -> str:
    """Messages of an exception and its causes (MONAI wraps errors raised inside a bundle's ``run``)."""
    text = []
    while error is not None:
        text.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(text)


def _folder(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for c in ("a", "b"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(root / c / f"{i}.png")
    return root


def _train(out: Path, data: Path, **extra) -> None:
    run(config_file=str(REPO / "bundles" / "medfusion" / "train.json"), output_dir=str(out), dataset_dir=str(data),
        **{**TINY, **extra})


def test_finished_run_folder_refuses_another_dataset_and_names_it(tmp_path):
    data, other = _folder(tmp_path / "data"), _folder(tmp_path / "other", seed=1)
    out = tmp_path / "run"
    _train(out, data)
    metrics = json.loads((out / "metrics.json").read_text())
    record = json.loads((out / "run_record.json").read_text())
    assert metrics["dataset_fingerprint"]["digest"] == record["dataset"]["digest"]
    assert record["dataset"]["num_files"] == 8 and record["dataset"]["content_hashed"]
    stamp = (out / "metrics.json").stat().st_mtime_ns

    with pytest.raises(Exception) as refused:
        _train(out, other)
    assert re.search(r"run_record\.json: this run folder was made from other data.*8 missing file\(s\): data/a/0\.png",
                     _chain(refused.value))
    with pytest.raises(Exception) as refused:
        _train(out, data, learning_rate=0.001)
    assert "setting 'optimizer#lr': 0.0003 in the run folder, 0.001 now" in _chain(refused.value)
    assert (out / "metrics.json").stat().st_mtime_ns == stamp, "a refused run must not rewrite the report"

    said: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("monai_synth").addHandler(handler)
    try:
        _train(out, data, log_every=5)  # harmless: accepted, and said
    finally:
        logging.getLogger("monai_synth").removeHandler(handler)
    assert any("log_every 1 -> 5" in m for m in said), said


def test_changed_file_content_is_named(tmp_path):
    data = _folder(tmp_path / "data")
    before = dataset_fingerprint(sorted(data.rglob("*.png")))
    check_run_record(tmp_path / "run_record.json", {"lr": 1}, before)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(data / "a" / "2.png")
    after = dataset_fingerprint(sorted(data.rglob("*.png")))
    with pytest.raises(RunFolderMismatchError, match=r"1 changed file\(s\): a/2\.png \(in "):
        check_run_record(tmp_path / "run_record.json", {"lr": 1}, after)


def test_large_sets_compare_size_and_mtime(tmp_path):
    data = _folder(tmp_path / "data")
    files = sorted(data.rglob("*.png"))
    fp = dataset_fingerprint(files, hash_limit=0)
    assert not fp["content_hashed"] and "sha256" not in fp["files"][0]
    check_run_record(tmp_path / "r.json", {}, fp)
    check_run_record(tmp_path / "r.json", {}, dataset_fingerprint(files, hash_limit=0))  # same: accepted
