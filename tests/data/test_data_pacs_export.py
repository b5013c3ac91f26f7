"""The messy PACS-like export (issue case 11) and writing into acquired data (issue case 6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_factory import fingerprint
from pacs_factory import write_messy_export, write_palette, write_vr_mismatch

from monai_synth.cli import main
from monai_synth.data import BadInputReport, DataError, ReadImage2D, build_datalist
from monai_synth.io.output_guard import OutputConflict, check_output_dir


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path / "export", write_messy_export(tmp_path / "export")


def test_inspect_reads_what_pydicom_reads_and_names_every_problem(export, capsys):
    root, made = export
    before = fingerprint(root)
    assert main(["inspect", str(root), "--json"]) == 1  # problems found: non-zero exit
    info = json.loads(capsys.readouterr().out)
    problems = {Path(p["path"]).relative_to(root).as_posix(): p["reason"] for p in info["problems"]}
    assert set(problems) == {"PAT2/X0", "PAT2/SR/REPORT", "PAT9/GONE1", "PAT9/GONE2"}
    assert problems["PAT2/X0"].startswith("truncated pixel data")
    assert problems["PAT2/SR/REPORT"].startswith("no pixel data (Comprehensive SR Storage)")
    assert problems["PAT9/GONE1"] == f"listed in {root / 'DICOMDIR'} but missing from the export"
    series = {s["description"]: s for s in info["series"]}
    assert series["us vr mismatch"]["usable_slices"] == 1 and series["us vr mismatch"]["min"] is not None
    assert (series["palette"]["min"], series["palette"]["max"]) == (0.0, 65535.0)  # RGB through the palette
    assert (series["abdomen arterial"]["rows"], series["scout"]["rows"]) == (8, 6)
    assert series["SYNTHETIC - monai_synth"]["synthetic"] and not series["scout"]["synthetic"]
    assert fingerprint(root) == before


def test_datalist_reports_all_problems_at_once_or_skips_and_lists_them(export, tmp_path, capsys):
    root, made = export
    with pytest.raises(DataError) as err:
        build_datalist(root)
    message = str(err.value)
    assert message.startswith(f"{root}: 4 bad inputs") and "--skip-bad" in message
    assert all(name in message for name in ("X0", "REPORT", "GONE1", "GONE2"))
    report = BadInputReport()
    entries = build_datalist(root, skip_bad=True, report=report)
    used = {Path(e["image"]).relative_to(root).as_posix() for e in entries}
    assert used == {"PAT1/ST1/SE1/IM0", "PAT1/ST1/SE1/IM1", "PAT1/ST1/SE1/IM2", "PAT1/ST1/SE2/sub/IM0",
                    "PAT1/ST1/SE2/sub/IM1", "PAT2/US/VRMIX", "PAT2/PAL/P1"}  # the synthetic series is left out
    reasons = {Path(r.path).relative_to(root).as_posix(): r.reason for r in report}
    assert "synthetic series" in reasons["PAT1/SYN/S1"] and len(reasons) == 5
    out, bad = tmp_path / "lists" / "l.json", tmp_path / "lists" / "bad.csv"
    assert main(["datalist", str(root), "--out", str(out), "--skip-bad", "--report", str(bad)]) == 0
    assert "5 bad inputs skipped" in capsys.readouterr().out and "GONE2" in bad.read_text()
    assert len(json.loads(out.read_text())["training"]) == 7


def test_vr_mismatch_and_palette_images_read(tmp_path):
    ct = ReadImage2D()(str(write_vr_mismatch(tmp_path / "m")))
    assert ct.shape == (1, 8, 8) and float(ct.min()) == -1024.0
    rgb = ReadImage2D()(str(write_palette(tmp_path / "p")))
    assert rgb.shape == (3, 4, 4)
    assert rgb[:, 0, :].T.tolist() == [[65535, 0, 0], [0, 65535, 0], [0, 0, 65535], [65535, 65535, 65535]]


def test_case6_writing_into_a_folder_of_acquired_dicom_is_refused(export):
    root, _ = export
    before = fingerprint(root)
    for folder in (root, root / "PAT1" / "ST1"):
        with pytest.raises(OutputConflict, match="already holds data that monai_synth did not write"):
            check_output_dir(folder, [])
    assert fingerprint(root) == before and not list(root.rglob(".monai_synth_output"))


def test_annex_e_basic_profile_attributes_are_not_copied(tmp_path):
    import pydicom

    from monai_synth.io.dicom_build import SeriesInfo, build_derived

    source = pydicom.dcmread(sorted((write_messy_export(tmp_path / "e"))["big"])[0])
    source.ProtocolName, source.AcquisitionComments, source.DetectorID = "Dr X knee", "patient anxious", "D-17"
    source.KVP = "120"
    derived = build_derived(np.zeros((8, 8), np.uint16), SeriesInfo(study_uid=source.StudyInstanceUID, series_uid=pydicom.uid.generate_uid(),
                                                                     series_number=900, description="restored"), 1, source)
    assert "ProtocolName" not in derived and "AcquisitionComments" not in derived and "DetectorID" not in derived
    assert derived.KVP == 120
