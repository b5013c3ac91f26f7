"""DICOM exports: discovery, grouping, selection, slice order, pixel conversion and bad objects."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from data_factory import fingerprint, shared, truncate
from dicom_factory import (
    ct_slice,
    write_ct_series,
    write_dataset,
    write_enhanced_ct,
    write_monochrome1,
    write_presentation_state,
    write_sr,
)
from pydicom.fileset import FileSet
from pydicom.uid import ImplicitVRLittleEndian, RLELossless, generate_uid

from monai_synth.data import BadInputReport, DataError, build_datalist, detect_source_kind, scan_dicom
from monai_synth.data.dicom import read_dicom_frame, read_header


def _first_pixels(entries):
    return [read_dicom_frame(e["image"], e["frame"])[0][0, 0, 0] for e in entries]


@pytest.fixture
def pacs_export(tmp_path: Path) -> Path:
    """Two studies, three image series, an SR and a presentation state, nested, mostly without extension."""
    root = tmp_path / "export"
    study = generate_uid()
    write_ct_series(root, 4, study_uid=study, description="Abdomen ARTERIAL 2.5mm",
                    name=lambda k: f"PAT1/STUDY1/SER1/IM{k}", order=[2, 0, 3, 1])
    write_ct_series(root, 3, study_uid=study, description="abdomen venous", name=lambda k: f"PAT1/STUDY1/SER2/{k}.dcm")
    write_monochrome1(root / "PAT1" / "STUDY2" / "SER1" / "CR0001")
    write_sr(root / "PAT1" / "STUDY1" / "SR" / "SR0001", study_uid=study)
    write_presentation_state(root / "PAT1" / "STUDY1" / "PR" / "PS0001", study_uid=study)
    (root / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)  # never read as an image
    (root / "README.TXT").write_text("Exported by PACS")
    (root / "VIEWER").mkdir()
    (root / "VIEWER" / "LAUNCH").write_text("#!/bin/sh\necho viewer\n")
    return root


def test_groups_series_and_skips_non_dicom(pacs_export):
    series = scan_dicom(pacs_export)
    assert sorted((s.modality, s.num_slices) for s in series) == [("CT", 3), ("CT", 4), ("DX", 1), ("PR", 0), ("SR", 0)]
    assert detect_source_kind(pacs_export) == "dicom"
    assert len({s.study_uid for s in series}) == 2


def test_non_image_objects_raise_unless_filtered_or_skipped(pacs_export):
    with pytest.raises(DataError, match=r"(PS0001|SR0001): no pixel data \(.*(Presentation State|SR) Storage\)"):
        build_datalist(pacs_export)
    report = BadInputReport()
    entries = build_datalist(pacs_export, skip_bad=True, report=report)
    assert len(entries) == 8 and sorted(Path(r.path).name for r in report) == ["PS0001", "SR0001"]
    assert len(build_datalist(pacs_export, modality="ct")) == 7  # selection first: no error for SR / PR


def test_selection_by_modality_description_and_uid(pacs_export):
    arterial = build_datalist(pacs_export, series_description="ARTERIAL")
    assert len(arterial) == 4 and {e["frame"] for e in arterial} == {0}
    uid = arterial[0]["series_uid"]
    assert build_datalist(pacs_export, series_uid=uid) == arterial
    assert len(build_datalist(pacs_export, modality=["CT", "DX"])) == 8
    assert len(build_datalist(pacs_export, modality="CT", series_description="venous")) == 3
    with pytest.raises(DataError, match=r"no series matches modality='MR' \(found: .*Abdomen ARTERIAL"):
        build_datalist(pacs_export, modality="MR")


def test_slices_ordered_by_position_when_instance_numbers_disagree(tmp_path):
    files = write_ct_series(tmp_path, 5, instance_numbers=[3, 5, 1, 4, 2], order=[4, 2, 0, 3, 1],
                            name=lambda k: f"f{k}")
    entries = build_datalist(tmp_path)
    assert [e["image"] for e in entries] == [str(p) for p in files]
    assert _first_pixels(entries) == [-1024 + 100 * k for k in range(5)]
    assert scan_dicom(tmp_path)[0].slice_spacing == 2.5


def test_instance_number_is_the_fallback_without_positions(tmp_path):
    files = write_ct_series(tmp_path, 4, positions=False, instance_numbers=[1, 2, 3, 4], order=[3, 1, 0, 2])
    assert [e["image"] for e in build_datalist(tmp_path)] == [str(p) for p in files]


def test_modality_lut_gives_hu_and_meta(tmp_path):
    (path,) = write_ct_series(tmp_path, 1, intercept=-1000.0)
    arr, meta = read_dicom_frame(path)
    stored = pydicom.dcmread(path).pixel_array
    assert arr.dtype == np.float32 and arr.shape == (1, 8, 8)
    np.testing.assert_array_equal(arr[0], stored.astype(np.float32) - 1000.0)
    assert meta["modality"] == "CT" and (meta["window_center"], meta["window_width"]) == (40.0, 400.0)
    assert meta["pixel_spacing"] == (0.7, 0.7) and meta["image_orientation"] == (1, 0, 0, 0, 1, 0)
    assert meta["image_position"] == (-100.0, -120.0, -50.0)
    assert meta["series_uid"] and meta["study_uid"]


def test_monochrome1_is_inverted(tmp_path):
    stored = np.array([[0, 4095], [1000, 2000]], np.uint16)
    arr, _ = read_dicom_frame(write_monochrome1(tmp_path / "cr", stored))
    np.testing.assert_array_equal(arr[0], [[4095, 0], [3095, 2095]])


def test_enhanced_multiframe_split_into_frames_in_position_order(tmp_path):
    path = write_enhanced_ct(tmp_path / "enh.dcm", frames=4, slope=2.0, intercept=-1000.0)
    entries = build_datalist(tmp_path)
    assert [e["frame"] for e in entries] == [3, 2, 1, 0]  # stored head to feet, read feet to head
    assert _first_pixels(entries) == [-1000.0 + 2 * 100 * k for k in range(4)]
    _, meta = read_dicom_frame(path, 1)
    assert meta["image_position"] == (0.0, 0.0, 20.0) and meta["pixel_spacing"] == (0.5, 0.5)
    with pytest.raises(DataError, match="frame 7 out of range"):
        read_dicom_frame(path, 7)


def test_truncated_files_raise_or_are_skipped(tmp_path):
    files = write_ct_series(tmp_path, 4, rows=32, columns=32, name=lambda k: f"IM{k}")
    truncate(files[1], 0.8)  # inside the pixel data
    truncate(files[2], 300)  # inside the header
    with pytest.raises(DataError, match="IM(1: truncated pixel data|2: truncated DICOM file: its header ends)"):
        build_datalist(tmp_path)
    report = BadInputReport()
    entries = build_datalist(tmp_path, skip_bad=True, report=report)
    assert [e["image"] for e in entries] == [str(files[0]), str(files[3])]
    reasons = {Path(r.path).name: r.reason for r in report}
    assert reasons["IM1"].startswith("truncated pixel data") and "header" in reasons["IM2"]
    assert read_header(files[1]).problem.startswith("truncated pixel data")


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, RLELossless])
def test_other_transfer_syntaxes_read_and_truncation_found(tmp_path, syntax):
    ds = ct_slice(1, 0.0, instance_number=1, study_uid=generate_uid(), series_uid=generate_uid(), rows=32, columns=32)
    if syntax.is_compressed:
        ds.compress(syntax)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
    good = write_dataset(ds, tmp_path / "good")
    assert read_header(good).problem is None and read_dicom_frame(good)[0][0, 0, 0] == -924.0
    bad = write_dataset(ds, tmp_path / "bad")
    truncate(bad, 0.7)
    assert read_header(bad).problem.startswith("truncated")


def test_raw_dataset_without_preamble_and_extension(tmp_path):
    ds = ct_slice(2, 0.0, instance_number=1, study_uid=generate_uid(), series_uid=generate_uid())
    del ds.file_meta
    pydicom.dcmwrite(tmp_path / "IM1", ds, enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert detect_source_kind(tmp_path) == "dicom"
    (entry,) = build_datalist(tmp_path)
    assert read_dicom_frame(entry["image"])[0][0, 0, 0] == -1024 + 200


def test_unreadable_dcm_file(tmp_path):
    write_ct_series(tmp_path, 2)
    (tmp_path / "junk.dcm").write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(DataError, match="junk.dcm: (unreadable DICOM|not a DICOM data set)"):
        build_datalist(tmp_path)
    assert len(build_datalist(tmp_path, skip_bad=True)) == 2


def test_series_with_slices_of_different_sizes(tmp_path):
    study, series = generate_uid(), generate_uid()
    write_ct_series(tmp_path, 3, study_uid=study, series_uid=series)
    odd = ct_slice(3, 100.0, instance_number=9, study_uid=study, series_uid=series, rows=4, columns=8)
    write_dataset(odd, tmp_path / "odd.dcm")
    with pytest.raises(DataError, match=r"odd.dcm: series .* different sizes: 8 x 8 \(3 files\), 4 x 8 \(1 files\)"):
        build_datalist(tmp_path)
    report = BadInputReport()
    with pytest.raises(DataError, match="no usable images"):
        build_datalist(tmp_path, skip_bad=True, report=report)
    assert "different sizes" in report[0].reason


def test_dicomdir_export_written_by_fileset(tmp_path):
    staging = tmp_path / "staging"
    files = write_ct_series(staging, 3)
    fs = FileSet()
    for path in files:
        fs.add(path)
    fs.write(tmp_path / "cd")
    entries = build_datalist(tmp_path / "cd" / "DICOMDIR")
    assert len(entries) == 3 and all("DICOMDIR" not in e["image"] for e in entries)
    assert _first_pixels(entries) == [-1024 + 100 * k for k in range(3)]


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no images found"):
        build_datalist(tmp_path)


def test_inputs_are_not_modified(pacs_export):
    before = fingerprint(pacs_export)
    for entry in build_datalist(pacs_export, skip_bad=True):
        read_dicom_frame(entry["image"], entry["frame"])
    assert fingerprint(pacs_export) == before


def test_real_ct_series_in_any_file_order(tmp_path):
    source = shared("dicom", "ct_abdomen_18")
    names = sorted(p.name for p in source.glob("*.dcm"))
    shuffled = names[:]
    random.Random(7).shuffle(shuffled)
    for i, name in enumerate(shuffled):
        shutil.copyfile(source / name, _nested(tmp_path, i))  # renamed without extension, nested
    entries = build_datalist(tmp_path)
    assert len(entries) == 18
    z = [read_dicom_frame(e["image"])[1]["image_position"][2] for e in entries]
    assert z == sorted(z) and np.allclose(np.diff(z), 2.5)
    values = [read_dicom_frame(e["image"])[0] for e in entries[:1]]
    assert values[0].shape == (1, 512, 512) and values[0].min() >= -1024


def _nested(root: Path, i: int) -> Path:
    path = root / f"STUDY{i % 2}" / f"SER{i % 3}" / f"{i:08X}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
