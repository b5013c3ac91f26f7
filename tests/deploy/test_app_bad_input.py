"""The applications' command line on bad input: one ``error:`` line naming the thing, exit 1, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from monai_synth.deploy.app_cli import main as app


def _run(capsys, name: str, *args: str) -> str:  # noqa: ANN001
    assert app(name, [*args, "--sdk", "no"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _inpaint_copy(bundle: Path, folder: Path) -> Path:
    """The bundle with its settings saying it was exported for inpainting."""
    copy = shutil.copytree(bundle, folder)
    config = copy / "configs" / "inference.json"
    data = json.loads(config.read_text())
    data["model_settings"]["task"] = "inpaint"
    config.write_text(json.dumps(data))
    return copy


def test_bundles_that_do_not_fit(capsys, ct_series, restore_bundle, synth_bundle, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    err = _run(capsys, "restore", "-i", str(ct_series), "-o", str(out), "-m", str(ct_series))
    assert f"{ct_series}: not an exported bundle" in err
    err = _run(capsys, "restore", "-i", str(ct_series), "-o", str(out), "-m", str(synth_bundle))
    assert "bundle of a stylegan2_ada model; this application needs med_cdiff" in err
    inpaint = _inpaint_copy(restore_bundle, tmp_path / "inpaint")
    err = _run(capsys, "restore", "-i", str(ct_series), "-o", str(out), "-m", str(inpaint))
    assert f"{inpaint}: bundle exported for task 'inpaint'" in err
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"images": [{"label": 0}]}))
    err = _run(capsys, "synthesize", "-i", str(request), "-o", str(out), "-m", str(restore_bundle))
    assert "needs medfusion or stylegan2_ada" in err
    assert not out.exists()


def test_studies_the_rules_cannot_choose_from(capsys, ct_series, restore_bundle, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    err = _run(capsys, "restore", "-i", str(ct_series.parent), "-o", str(out), "-m", str(restore_bundle),
               "--rules", str(_rules(tmp_path, {"Modality": "MR"})))
    assert "no series matches the selection rules ['R']" in err and "CT 'arterial', 18 slices" in err
    two = tmp_path / "two"
    (two / "a").mkdir(parents=True)
    (two / "b").mkdir()
    for path in sorted(ct_series.glob("*.dcm"))[:6]:  # the same slices once more as a second CT series
        ds = pydicom.dcmread(path)
        ds.save_as(two / "a" / path.name)
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[ds.SeriesInstanceUID, "copy"])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[ds.SOPInstanceUID, "copy"])
        ds.save_as(two / "b" / path.name)
    err = _run(capsys, "restore", "-i", str(two), "-o", str(out), "-m", str(restore_bundle))
    assert "2 series match the selection rules" in err and "make the rules choose one" in err
    err = _run(capsys, "restore", "-i", str(two), "-o", str(two / "inside"), "-m", str(restore_bundle))
    assert "lies inside the input folder" in err
    assert not out.exists() and not (two / "inside").exists()


def _rules(folder: Path, conditions: dict) -> Path:
    path = folder / "rules.json"
    path.write_text(json.dumps({"selections": [{"name": "R", "conditions": conditions}]}))
    return path
