"""Training, sampling and restoring refuse output folders that hold acquired images, and folders in the data."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_synth.engines.med_cdiff.infer import restore_to_folder
from monai_synth.io.output_guard import OutputConflict

sys.path.insert(0, str(Path(__file__).parent))
from test_med_cdiff_infer import FakeRestorer, _ct_series  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bundles"))
from tiny_runs import bundle_trainer  # noqa: E402


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_restoring_into_a_folder_of_acquired_dicom_is_refused(tmp_path):
    source, acquired = tmp_path / "in", tmp_path / "pacs_export"
    _ct_series(source, slices=1)
    _ct_series(acquired, slices=2)
    before = _digest(acquired)
    with pytest.raises(OutputConflict, match="already holds data"):
        restore_to_folder(str(source), str(acquired), restorer=FakeRestorer(), progress=False)
    assert _digest(acquired) == before


def test_training_output_inside_the_dataset_is_refused(tmp_path):
    data = tmp_path / "data" / "a"
    data.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(data / f"{i}.png")
    before = _digest(tmp_path / "data")
    for out in (tmp_path / "data", tmp_path / "data" / "run"):
        with pytest.raises(OutputConflict, match="refusing to write here"):
            bundle_trainer("medfusion", output_dir=str(out), dataset_dir=str(tmp_path / "data")).run()
    assert _digest(tmp_path / "data") == before
