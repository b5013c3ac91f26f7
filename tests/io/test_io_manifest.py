"""Provenance manifest: one valid, fsynced JSON line per written file."""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import monai_synth
from monai_synth.io import MANIFEST_FIELDS, ManifestWriter, read_manifest, sha256_file


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"weights" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"weights" * 1000).hexdigest()
    assert sha256_file(path, chunk_size=7) == sha256_file(path)


def test_one_complete_line_per_file(tmp_path: Path) -> None:
    files = [tmp_path / "class_1" / f"img_{i}.png" for i in range(2)]
    with ManifestWriter(tmp_path) as manifest:
        for seed, path in enumerate(files):
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(b"png")
            manifest.write(
                path,
                {"model": "medfusion", "checkpoint_sha256": "ab" * 32, "seed": np.int64(seed)},
                condition={"class_label": 1},
                sampler="ddim",
                steps=150,
                guidance_scale=np.float32(1.5),
                window=(40.0, 400.0),
                format="png",
            )
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records == read_manifest(tmp_path)
    first = records[0]
    assert first["file"] == "class_1/img_0.png" and first["synthetic"] is True
    assert set(MANIFEST_FIELDS) <= set(first)
    assert (first["seed"], first["steps"], first["guidance_scale"]) == (0, 150, 1.5)
    assert first["window"] == [40.0, 400.0] and first["condition"] == {"class_label": 1}
    assert first["monai_synth_version"] == monai_synth.__version__
    written = datetime.datetime.fromisoformat(first["written_at"])
    assert written.utcoffset() == datetime.timedelta(0)


def test_unknown_fields_are_null_and_synthetic_cannot_be_overridden(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"x")
    record = ManifestWriter(tmp_path).write(path, synthetic=False, note="extra")
    assert record["synthetic"] is True and record["model"] is None and record["note"] == "extra"


def test_partial_last_line_is_dropped_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"x")
    ManifestWriter(tmp_path).write(path, seed=1)
    with open(tmp_path / "manifest.jsonl", "a") as handle:
        handle.write('{"file": "b.png", "synth')  # a crash in the middle of a line
    with ManifestWriter(tmp_path) as manifest:
        manifest.write(path, seed=2)
    assert [r["seed"] for r in read_manifest(tmp_path)] == [2]  # partial line dropped; the rewritten file listed once


def test_refuses_missing_outside_and_non_json(tmp_path: Path) -> None:
    manifest = ManifestWriter(tmp_path / "out")
    with pytest.raises(FileNotFoundError):
        manifest.write(tmp_path / "out" / "missing.png")
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"x")
    with pytest.raises(ValueError, match="not inside"):
        manifest.write(outside)
    inside = tmp_path / "out" / "a.png"
    inside.write_bytes(b"x")
    with pytest.raises(ValueError):
        manifest.write(inside, guidance_scale=float("nan"))
    manifest.close()
    assert read_manifest(tmp_path / "out") == []
