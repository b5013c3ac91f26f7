"""The restore application's operator code (no SDK): one selected series -> one derived series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from monai_synth.data.errors import DataError
from monai_synth.deploy.bundle import load_app_bundle
from monai_synth.deploy.restore_study import restore_study_folder
from monai_synth.deploy.selection import DEFAULT_RULES


def _digest(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _small_series(source: Path, folder: Path, count: int = 4, size: int = 32) -> list[Path]:
    """The first ``count`` slices of the real CT, cut to ``size`` px (same UIDs and geometry)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for path in sorted(source.glob("*.dcm"))[:count]:
        ds = pydicom.dcmread(path)
        ds.PixelData = np.ascontiguousarray(ds.pixel_array[200:200 + size, 200:200 + size]).tobytes()
        ds.Rows = ds.Columns = size
        paths.append(folder / path.name)
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def test_restore_is_derived_in_the_same_study_and_deterministic(restore_bundle, ct_series, tmp_path) -> None:
    inp = tmp_path / "in"
    sources = _small_series(ct_series, inp)
    before = _digest(inp)
    bundle = load_app_bundle(restore_bundle, ("med_cdiff",))
    first = restore_study_folder(inp, bundle, tmp_path / "out", DEFAULT_RULES)
    files = sorted(first.glob("*.dcm"))
    assert len(files) == 4 and _digest(inp) == before
    src = pydicom.dcmread(sources[0])
    ds = pydicom.dcmread(files[0])
    assert ds.StudyInstanceUID == src.StudyInstanceUID and ds.SeriesInstanceUID != src.SeriesInstanceUID
    assert ds.SeriesInstanceUID == first.name and "DERIVED" in ds.ImageType
    assert bundle.model_sha256 in ds.DerivationDescription
    manifest = [json.loads(line) for line in (first / "manifest.jsonl").read_text().splitlines()]
    assert [m["file"] for m in manifest] == [f.name for f in files]
    assert all(m["derived_from"].startswith(str(inp)) for m in manifest)
    uids = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    again = restore_study_folder(inp, bundle, tmp_path / "out", DEFAULT_RULES)
    assert again == first and {pydicom.dcmread(f).SOPInstanceUID for f in again.glob("*.dcm")} == uids
    assert [p.name for p in (tmp_path / "out").iterdir()] == [first.name]
    other = restore_study_folder(inp, bundle, tmp_path / "out2", DEFAULT_RULES, seed=1)
    assert other.name != first.name


def test_bad_inputs_leave_nothing(restore_bundle, ct_series, tmp_path) -> None:
    bundle = load_app_bundle(restore_bundle, ("med_cdiff",))
    out = tmp_path / "out"
    missing = tmp_path / "missing"
    paths = _small_series(ct_series, missing, count=5)
    paths[2].unlink()
    with pytest.raises(DataError, match="missing slices"):
        restore_study_folder(missing, bundle, out, DEFAULT_RULES)
    mixed = tmp_path / "mixed"
    _small_series(ct_series, mixed, count=2)
    _small_series(ct_series.parent / ct_series.name, tmp_path / "bigger", count=3, size=40)
    (tmp_path / "bigger" / sorted(p.name for p in (tmp_path / "bigger").iterdir())[2]).rename(
        mixed / "odd.dcm")
    with pytest.raises(DataError, match="different sizes"):
        restore_study_folder(mixed, bundle, out, DEFAULT_RULES)
    with pytest.raises(DataError, match="no series matches the selection rules"):
        restore_study_folder(missing, bundle, out, {"selections": [{"name": "MR", "conditions": {"Modality": "MR"}}]})
    assert not out.exists() or not list(out.iterdir())
