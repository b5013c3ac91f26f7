"""Runs never interleave: each derived or synthetic series has its own folder named by its Series UID, and a
re-run does not duplicate manifest lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pydicom

from monai_synth.engines.med_cdiff.infer import restore_to_folder
from monai_synth.io import ManifestWriter

sys.path.insert(0, str(Path(__file__).parent))
from test_med_cdiff_infer import FakeRestorer, _ct_series  # noqa: E402


def test_two_restorations_into_one_folder_keep_their_series_apart(tmp_path):
    first, second = tmp_path / "patient1", tmp_path / "patient2"
    _ct_series(first, slices=3)
    _ct_series(second, slices=2)
    out = tmp_path / "out"
    restore_to_folder(str(first), str(out), restorer=FakeRestorer(), progress=False)
    restore_to_folder(str(second), str(out), restorer=FakeRestorer(), progress=False)
    folders = [d for d in out.iterdir() if d.is_dir()]
    assert len(folders) == 2
    for folder in folders:
        datasets = [pydicom.dcmread(p) for p in folder.glob("*.dcm")]
        assert {ds.SeriesInstanceUID for ds in datasets} == {folder.name}
        assert len({ds.StudyInstanceUID for ds in datasets}) == 1  # one patient's study per folder
    assert sorted(len(list(f.glob("*.dcm"))) for f in folders) == [2, 3]
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 5 == len({r["file"] for r in lines})


def test_rerun_rewrites_manifest_lines_instead_of_appending(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for run in range(2):  # the second run is a re-run of a killed or finished command
        with ManifestWriter(out) as manifest:
            for k in range(3):
                (out / f"img{k}.png").write_bytes(b"png")
                manifest.write(out / f"img{k}.png", model="m", seed=k, run=run)
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [(r["file"], r["run"]) for r in lines] == [("img0.png", 1), ("img1.png", 1), ("img2.png", 1)]


def test_killed_run_duplicates_are_compacted_on_the_next_open(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"x")
    writer = ManifestWriter(out)
    writer.write(out / "a.png", seed=1)
    writer.write(out / "a.png", seed=2)
    writer._handle.close()  # a process killed before close(): two lines for one file remain
    writer._handle = None
    with ManifestWriter(out) as again:
        (out / "b.png").write_bytes(b"y")
        again.write(out / "b.png", seed=3)
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [(r["file"], r["seed"]) for r in lines] == [("a.png", 2), ("b.png", 3)]
