"""PACS round trips against a private Orthanc, for both applications.

restore: push the real CT series -> ``pacs pull`` the study -> restore app -> ``pacs push`` -> C-FIND finds the
derived series in the same study with 18 instances; the REST API reads back the tags. synthesize: the app's
study -> push -> C-FIND and REST. Re-running an app and pushing again adds no instance. The App SDK variant
runs in the deploy environment (``MONAI_SYNTH_DEPLOY_PYTHON``, made by ``.ci/install-pacs.sh``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from monai_synth.cli import main as cli
from monai_synth.deploy.app_cli import main as app
from monai_synth.deploy.pacs import find_series, find_studies

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DEPLOY_PYTHON = Path.home() / ".cache" / "monai-synth-deploy-venv" / "bin" / "python"


def _pacs_args(pacs) -> list[str]:  # noqa: ANN001
    return ["--port", str(pacs.port), "--aec", pacs.called_aet, "--aet", pacs.calling_aet]


def _tags(orthanc, series_uid: str) -> dict:  # noqa: ANN001
    """Simplified tags of the first instance of a series, read through Orthanc's REST API (long texts, which
    ``simplify`` leaves out, read on their own)."""
    for series in orthanc.rest("/series?expand"):
        if series["MainDicomTags"]["SeriesInstanceUID"] == series_uid:
            instance = series["Instances"][0]
            tags = orthanc.rest(f"/instances/{instance}/tags?simplify")
            if "DerivationDescription" in tags:
                raw = orthanc.raw(f"/instances/{instance}/content/0008-2111")
                tags["DerivationDescription"] = raw.decode("ascii", "replace").strip(" \x00")
            return tags
    raise AssertionError(f"series {series_uid} not in Orthanc")


def _orthanc_series_id(orthanc, series_uid: str) -> str:  # noqa: ANN001
    """Orthanc's identifier of a series."""
    return next(s["ID"] for s in orthanc.rest("/series?expand") if s["MainDicomTags"]["SeriesInstanceUID"] == series_uid)


def _pulled_study(pacs, ct_series: Path, tmp_path: Path) -> tuple[Path, pydicom.Dataset]:  # noqa: ANN001
    assert cli(["pacs", "push", str(ct_series), *_pacs_args(pacs)]) == 0
    source = pydicom.dcmread(sorted(ct_series.glob("*.dcm"))[0], stop_before_pixels=True)
    pulled = tmp_path / "pulled"
    assert cli(["pacs", "pull", "--study", source.StudyInstanceUID, "--out", str(pulled), *_pacs_args(pacs)]) == 0
    return pulled, source


def _check_derived(pacs, orthanc, out: Path, source: pydicom.Dataset) -> str:  # noqa: ANN001
    """Push the app's output and check what the PACS holds; returns the derived series UID."""
    assert cli(["pacs", "push", str(out), *_pacs_args(pacs)]) == 0
    series = {s["SeriesInstanceUID"]: s for s in find_series(pacs, source.StudyInstanceUID)}
    derived = [uid for uid in series if uid != source.SeriesInstanceUID]
    assert len(series) == 2 and len(derived) == 1
    assert series[derived[0]]["NumberOfSeriesRelatedInstances"] == 18
    tags = _tags(orthanc, derived[0])
    assert "DERIVED" in tags["ImageType"] and tags["StudyInstanceUID"] == source.StudyInstanceUID
    assert tags["SeriesInstanceUID"] == derived[0] != source.SeriesInstanceUID
    assert tags["Modality"] == "CT" and float(tags["RescaleSlope"]) > 0 and "RescaleIntercept" in tags
    row, col = (float(v) for v in tags["PixelSpacing"].split("\\"))
    size = int(tags["Rows"])
    assert row == pytest.approx(float(source.PixelSpacing[0]) * 512 / size, rel=1e-3)  # same field of view
    assert "sha256" in tags["DerivationDescription"]
    return derived[0]


def test_restore_roundtrip(pacs, orthanc, ct_series, restore_bundle, tmp_path) -> None:  # noqa: ANN001
    pulled, source = _pulled_study(pacs, ct_series, tmp_path)
    out = tmp_path / "restored"
    args = ["-i", str(pulled), "-o", str(out), "-m", str(restore_bundle), "--sdk", "no"]
    assert app("restore", args) == 0
    derived = _check_derived(pacs, orthanc, out, source)
    assert [p.name for p in out.iterdir()] == [derived]
    assert app("restore", args) == 0  # a retry writes the same instances ...
    assert cli(["pacs", "push", str(out), *_pacs_args(pacs)]) == 0
    assert len(orthanc.rest("/instances")) == 36  # ... and the PACS holds each once


def test_synthesize_roundtrip(pacs, orthanc, synth_bundle, tmp_path) -> None:  # noqa: ANN001
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"images": [{"label": 0, "count": 2, "seed": 0}, {"label": 1, "count": 2}]}))
    out = tmp_path / "synthetic"
    args = ["-i", str(request), "-o", str(out), "-m", str(synth_bundle), "--sdk", "no"]
    assert app("synthesize", args) == 0 and app("synthesize", args) == 0
    assert cli(["pacs", "push", str(out), *_pacs_args(pacs)]) == 0
    study_uid = next(out.iterdir()).name
    studies = find_studies(pacs, StudyInstanceUID=study_uid)
    assert len(studies) == 1 and studies[0]["NumberOfStudyRelatedInstances"] == 4
    series = find_series(pacs, study_uid)
    assert sorted(s["NumberOfSeriesRelatedInstances"] for s in series) == [2, 2]
    tags = _tags(orthanc, series[0]["SeriesInstanceUID"])
    assert tags["StudyInstanceUID"] == study_uid and "ContributingEquipmentSequence" in tags
    instance = orthanc.rest(f"/series/{_orthanc_series_id(orthanc, series[0]['SeriesInstanceUID'])}")["Instances"][0]
    # Orthanc 1.10's dictionary predates SyntheticData (0008,001C): read the element's raw value
    assert orthanc.raw(f"/instances/{instance}/content/0008-001c").strip(b" \x00") == b"YES"
    assert tags["SOPClassUID"].startswith("1.2.840.10008.5.1.4.1.1.7")  # Secondary Capture
    assert len(orthanc.rest("/instances")) == 4


def _deploy_python() -> str:
    """The Python of the deploy environment (App SDK installed), or skip (fail under CI)."""
    python = os.environ.get("MONAI_SYNTH_DEPLOY_PYTHON") or str(DEFAULT_DEPLOY_PYTHON)
    if not Path(python).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no deploy environment at {python}: run .ci/install-pacs.sh")
        pytest.skip(f"no deploy environment (MONAI_SYNTH_DEPLOY_PYTHON, {DEFAULT_DEPLOY_PYTHON})")
    return python


def _run_sdk_app(name: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [_deploy_python(), "-m", f"monai_synth.deploy.{name}", *args, "--sdk", "yes"]
    # the timeout guards against a hang; it is not a speed test
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)


def test_restore_app_on_the_sdk(pacs, orthanc, ct_series, restore_bundle, tmp_path) -> None:  # noqa: ANN001
    _deploy_python()
    pulled, source = _pulled_study(pacs, ct_series, tmp_path)
    sdk_out, plain_out = tmp_path / "sdk", tmp_path / "plain"
    done = _run_sdk_app("restore", ["-i", str(pulled), "-o", str(sdk_out), "-m", str(restore_bundle)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DICOMSeriesSelectorOperator" in done.stderr or "Selected Series" in done.stderr  # the SDK's operators ran
    derived = _check_derived(pacs, orthanc, sdk_out, source)
    assert app("restore", ["-i", str(pulled), "-o", str(plain_out), "-m", str(restore_bundle), "--sdk", "no"]) == 0
    assert [p.name for p in plain_out.iterdir()] == [derived]  # the same operators give the same instances


def test_sdk_app_bad_input_is_one_clear_line(restore_bundle, synth_bundle, ct_series, tmp_path) -> None:  # noqa: ANN001
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"selections": [{"name": "MR", "conditions": {"Modality": "MR"}}]}))
    done = _run_sdk_app("restore", ["-i", str(ct_series), "-o", str(tmp_path / "out"), "-m", str(restore_bundle),
                                    "--rules", str(rules)])
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {ct_series}: no series matches the selection rules")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"images": [{"label": 0}]}))
    done = _run_sdk_app("synthesize", ["-i", str(request), "-o", str(tmp_path / "s"), "-m", str(synth_bundle)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((tmp_path / "s").rglob("*.dcm"))) == 1
    assert sys.executable  # the default run above used this interpreter; the SDK runs used the deploy one
