"""NIfTI volumes read as 2D slices."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from data_factory import fingerprint, truncate, write_nifti

from monai_synth.data import BadInputReport, DataError, build_datalist, class_names, detect_source_kind
from monai_synth.data.nifti import load_volume, read_nifti_slice


def _volume() -> np.ndarray:
    """(x=4, y=5, z=6) int16 volume, zero at z = 0 and z = 5 (empty slices), distinct values elsewhere."""
    vol = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) + 1
    vol[:, :, 0] = vol[:, :, 5] = 0
    return vol


def test_axial_slices_skip_empty_and_display_orientation(tmp_path):
    path = write_nifti(tmp_path / "ct.nii.gz", _volume(), np.diag([0.8, 0.9, 3.0, 1.0]))
    entries = build_datalist(path)
    assert detect_source_kind(path) == "nifti"
    assert [e["frame"] for e in entries] == [1, 2, 3, 4] and {e["axis"] for e in entries} == {2}
    assert len(build_datalist(path, skip_empty=False)) == 6
    arr, spacing = read_nifti_slice(path, 2, axis=2)
    assert arr.shape == (1, 5, 4) and arr.dtype == np.float32 and spacing == pytest.approx((0.9, 0.8))
    # radiological view: anterior (high y) at the top, patient right (high x in RAS+) on the left
    np.testing.assert_array_equal(arr[0], _volume()[:, :, 2].T[::-1, ::-1])


def test_other_axes(tmp_path):
    path = write_nifti(tmp_path / "v.nii", _volume())
    assert len(build_datalist(path, axis=0)) == 4 and len(build_datalist(path, axis=1, skip_empty=False)) == 5
    assert read_nifti_slice(path, 1, axis=0)[0].shape == (1, 6, 5)  # sagittal: superior at the top
    with pytest.raises(DataError, match="axis must be 0, 1 or 2"):
        build_datalist(path, axis=3)
    with pytest.raises(DataError, match="slice 9 out of range"):
        read_nifti_slice(path, 9)


def test_same_slices_whatever_the_stored_orientation(tmp_path):
    ras = write_nifti(tmp_path / "ras.nii", _volume())
    lps_affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    lps_affine[:3, 3] = [3.0, 4.0, 0.0]  # same voxel centres in world space, axes flipped
    lps = write_nifti(tmp_path / "lps.nii", _volume()[::-1, ::-1, :].copy(), lps_affine)
    for k in range(1, 5):
        np.testing.assert_array_equal(read_nifti_slice(ras, k)[0], read_nifti_slice(lps, k)[0])


def test_intensity_scaling_is_applied(tmp_path):
    img = nib.Nifti1Image(_volume(), np.eye(4))
    img.header.set_slope_inter(2.0, -1024.0)
    path = tmp_path / "scaled.nii"
    nib.save(img, str(path))
    arr, _ = read_nifti_slice(path, 1)
    np.testing.assert_allclose(arr[0], _volume()[:, :, 1].T[::-1, ::-1] * 2.0 - 1024.0)


def test_2d_nifti_and_4d_error(tmp_path):
    flat = write_nifti(tmp_path / "flat.nii", np.ones((3, 4), np.float32) * np.arange(4))
    assert build_datalist(flat) == [{"image": str(flat), "frame": 0, "axis": 2}]
    four = write_nifti(tmp_path / "four.nii", np.ones((3, 4, 5, 2), np.float32))
    with pytest.raises(DataError, match=r"four.nii: NIfTI of shape \(3, 4, 5, 2\)"):
        build_datalist(four)


def test_folder_with_classes_and_corrupt_file(tmp_path):
    write_nifti(tmp_path / "healthy" / "a.nii.gz", _volume())
    write_nifti(tmp_path / "tumour" / "b.nii.gz", _volume())
    bad = truncate(write_nifti(tmp_path / "tumour" / "c.nii.gz", _volume()), 0.5)
    assert class_names(tmp_path) == ["healthy", "tumour"]
    with pytest.raises(DataError, match="c.nii.gz: cannot read NIfTI"):
        build_datalist(tmp_path)
    report = BadInputReport()
    entries = build_datalist(tmp_path, skip_bad=True, report=report)
    assert [(Path(e["image"]).name, e["label"]) for e in entries][::4] == [("a.nii.gz", 0), ("b.nii.gz", 1)]
    assert [Path(r.path) for r in report] == [bad]


def test_volume_cache_reuses_and_notices_rewrites(tmp_path):
    path = write_nifti(tmp_path / "v.nii.gz", _volume())
    first = load_volume(path)
    assert load_volume(path)[0] is first[0]
    write_nifti(path, _volume() * 2)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10_000))  # even on coarse clocks
    assert load_volume(path)[0].max() == 2 * first[0].max()


def test_inputs_are_not_modified(tmp_path):
    write_nifti(tmp_path / "v.nii", _volume())
    before = fingerprint(tmp_path)
    for entry in build_datalist(tmp_path):
        read_nifti_slice(entry["image"], entry["frame"])
    assert fingerprint(tmp_path) == before
