"""The synthesize application's operator code (no SDK): a request -> a synthetic study."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from monai_synth.data.errors import DataError
from monai_synth.deploy.bundle import load_app_bundle
from monai_synth.deploy.request import read_request
from monai_synth.deploy.synthesize_study import synthesize_study


def _uids(folder: Path) -> dict[str, set[str]]:
    """Every UID element of every file, by keyword."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        for element in ds.iterall():
            if element.VR == "UI":
                found.setdefault(element.keyword, set()).add(str(element.value))
    return found


def test_request_gives_the_same_marked_study_twice(synth_bundle, tmp_path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"images": [{"label": 0, "count": 2, "seed": 5}, {"label": 1, "count": 1}]}))
    bundle = load_app_bundle(synth_bundle, ("medfusion", "stylegan2_ada"))
    study = synthesize_study(read_request(request), bundle, tmp_path / "out")
    files = sorted(study.rglob("*.dcm"))
    assert len(files) == 3
    datasets = [pydicom.dcmread(f) for f in files]
    assert {ds.StudyInstanceUID for ds in datasets} == {study.name}
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 2 and len({ds.SOPInstanceUID for ds in datasets}) == 3
    assert all(ds.SyntheticData == "YES" and ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
               for ds in datasets)
    manifest = [json.loads(x) for x in (study / "manifest.jsonl").read_text().splitlines()]
    assert sorted(m["seed"] for m in manifest) == [0, 5, 6] and all(m["synthetic"] for m in manifest)
    first = _uids(study)
    again = synthesize_study(read_request(request), bundle, tmp_path / "out")
    assert again == study and _uids(again) == first
    request.write_text(json.dumps({"images": [{"label": 0, "count": 2, "seed": 6}]}))
    assert synthesize_study(read_request(request), bundle, tmp_path / "out").name != study.name


@pytest.mark.parametrize(("content", "problem"), [
    ({"images": [{"label": 0, "count": 0}]}, "count must be at least 1"),
    ({"images": [{"label": "a"}]}, "must be integers"),
    ({"labels": [0]}, "a request is a JSON object"),
    ({"images": []}, "asks for no image"),
])
def test_bad_requests_name_the_file(tmp_path, content, problem) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(content))
    with pytest.raises(DataError, match=problem) as info:
        read_request(request)
    assert str(request) in str(info.value)


def test_unknown_label_leaves_nothing(synth_bundle, tmp_path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"images": [{"label": 7}]}))
    bundle = load_app_bundle(synth_bundle, ("stylegan2_ada",))
    with pytest.raises(DataError, match=r"labels \[7\] are not classes"):
        synthesize_study(read_request(request), bundle, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
