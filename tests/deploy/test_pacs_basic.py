"""PACS commands against a private Orthanc: echo, push + find, pull, re-push, and the failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from orthanc_server import STRANGER_AET

from monai_synth.cli import main
from monai_synth.deploy.pacs import PacsError, echo, find_series, find_studies, pull, push_folder


def _args(pacs, *extra: str) -> list[str]:  # noqa: ANN001
    return [*extra, "--port", str(pacs.port), "--aec", pacs.called_aet, "--aet", pacs.calling_aet]


def test_echo(pacs) -> None:  # noqa: ANN001
    assert echo(pacs) > 0
    assert main(_args(pacs, "pacs", "echo")) == 0


def test_push_find_pull_roundtrip(pacs, orthanc, ct_series: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    source = sorted(ct_series.glob("*.dcm"))
    before = {p: p.stat().st_mtime_ns for p in source}
    report = push_folder(pacs, ct_series)
    assert len(report.sent) == 18 and report.ok and not report.skipped
    study_uid = str(pydicom.dcmread(source[0], stop_before_pixels=True).StudyInstanceUID)
    studies = find_studies(pacs, StudyInstanceUID=study_uid)
    assert len(studies) == 1 and studies[0]["NumberOfStudyRelatedInstances"] == 18
    series = find_series(pacs, study_uid, Modality="CT")
    assert len(series) == 1 and series[0]["NumberOfSeriesRelatedInstances"] == 18
    # pushing again keeps one copy per SOP instance
    assert main(_args(pacs, "pacs", "push", str(ct_series))) == 0
    assert len(orthanc.rest("/instances")) == 18
    # pull through the CLI and compare pixels
    out = tmp_path / "pulled"
    assert main(_args(pacs, "pacs", "pull", "--study", study_uid, "--out", str(out))) == 0
    pulled = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in out.rglob("*.dcm")}
    assert len(pulled) == 18
    for path in source:
        ds = pydicom.dcmread(path)
        back = pydicom.dcmread(pulled[str(ds.SOPInstanceUID)])
        np.testing.assert_array_equal(back.pixel_array, ds.pixel_array)
        assert back.RescaleIntercept == ds.RescaleIntercept and back.PixelSpacing == ds.PixelSpacing
    assert {p: p.stat().st_mtime_ns for p in source} == before
    # a non-empty output folder is refused, and left as it was
    capsys.readouterr()
    assert main(_args(pacs, "pacs", "pull", "--study", study_uid, "--out", str(out))) == 1
    assert "not empty" in capsys.readouterr().err
    assert len(list(out.rglob("*.dcm"))) == 18
    assert main(_args(pacs, "pacs", "find", "--level", "series", "--study", study_uid, "--json")) == 0
    assert '"NumberOfSeriesRelatedInstances": 18' in capsys.readouterr().out


def test_unreachable_pacs(pacs, capsys) -> None:  # noqa: ANN001
    from orthanc_server import free_port

    port = free_port()
    assert main(["pacs", "echo", "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: cannot reach the PACS at 127.0.0.1:{port} (Connection refused)"


def test_wrong_called_aet(pacs, capsys) -> None:  # noqa: ANN001
    # Orthanc rejects an unknown called AE title; on a loaded machine it was once seen to drop the connection
    # instead, which pynetdicom reports as an abort: either way the one-line error names the PACS
    with pytest.raises(PacsError, match="(rejected|aborted) the association"):
        echo(pacs.updated(called_aet="NOT_ORTHANC"))
    assert main(_args(pacs, "pacs", "echo")[:-4] + ["--port", str(pacs.port), "--aec", "NOT_ORTHANC"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NOT_ORTHANC" in err and ("rejected" in err or "aborted" in err)


def test_pull_unknown_study_leaves_nothing(pacs, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "nothing"
    with pytest.raises(PacsError, match="answered C-GET with 0x|has no instances"):
        pull(pacs, out, "1.2.3.4.5.6.7.8.9")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_refused_store(pacs, orthanc, ct_series: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    folder = tmp_path / "mixed"
    folder.mkdir()
    pydicom.dcmread(sorted(ct_series.glob("*.dcm"))[0]).save_as(folder / "refused.dcm")
    (folder / "notes.txt").write_text("not DICOM")
    stranger = pacs.updated(calling_aet=STRANGER_AET)
    assert echo(stranger) > 0  # it may echo, but not store
    assert main(_args(stranger, "pacs", "push", str(folder))) == 1
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "notes.txt" in captured.err
    assert f"error: {folder / 'refused.dcm'}: C-STORE refused" in captured.err
    assert "0 sent, 1 skipped, 1 failed" in captured.out
    assert not orthanc.rest("/instances")
