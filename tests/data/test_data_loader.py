"""ReadImage2D / ReadImage2Dd: any entry -> MetaTensor (C, H, W) float32 in native units, with meta."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_factory import write_nifti, write_png
from dicom_factory import write_ct_series, write_enhanced_ct, write_monochrome1
from monai.data import DataLoader, Dataset, MetaTensor, decollate_batch

from monai_synth.data import DataError, ReadImage2D, ReadImage2Dd, build_datalist

CONTRACT_KEYS = {"filename_or_obj", "source_kind", "value_range", "modality", "window_center", "window_width"}
DICOM_KEYS = {"pixel_spacing", "image_position", "image_orientation", "series_uid", "study_uid"}


def _check(image, shape, kind):
    assert isinstance(image, MetaTensor) and image.dtype == torch.float32 and tuple(image.shape) == shape
    assert CONTRACT_KEYS <= set(image.meta) and image.meta["source_kind"] == kind


def test_raster_entries(tmp_path):
    gray16 = write_png(tmp_path / "g.png", np.full((4, 6), 60000, np.uint16))
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 1] = 100
    color = write_png(tmp_path / "c.png", rgb)
    image = ReadImage2D()({"image": str(gray16), "label": 1})
    _check(image, (1, 4, 6), "raster")
    assert image.max() == 60000 and image.meta["value_range"] == (0.0, 65535.0)
    assert image.meta["filename_or_obj"] == str(gray16)
    _check(ReadImage2D()(color), (3, 4, 6), "raster")
    gray = ReadImage2D(grayscale=True)(str(color))
    _check(gray, (1, 4, 6), "raster")
    assert gray[0, 0, 0].item() == pytest.approx(58.7, abs=1e-3)


def test_dicom_entry_in_hu_with_geometry(tmp_path):
    write_ct_series(tmp_path, 2)
    entry = build_datalist(tmp_path)[0]
    image = ReadImage2D()(entry)
    _check(image, (1, 8, 8), "dicom")
    assert image[0, 0, 0].item() == -1024.0 and DICOM_KEYS <= set(image.meta)
    assert image.meta["modality"] == "CT" and image.meta["window_center"] == 40.0
    assert image.meta["value_range"] is None and image.meta["series_uid"] == entry["series_uid"]


def test_multiframe_and_monochrome1_entries(tmp_path):
    enh = write_enhanced_ct(tmp_path / "e" / "enh.dcm", frames=3)
    images = [ReadImage2D()(e) for e in build_datalist(enh.parent)]
    assert [im.meta["frame"] for im in images] == [2, 1, 0]
    assert [im[0, 0, 0].item() for im in images] == [-1000.0, -800.0, -600.0]
    cr = write_monochrome1(tmp_path / "cr" / "img", np.array([[0, 4095]], np.uint16))
    assert ReadImage2D()(str(cr))[0, 0].tolist() == [4095.0, 0.0]


def test_nifti_and_npz_entries(tmp_path):
    vol = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    nii = write_nifti(tmp_path / "v.nii.gz", vol)
    image = ReadImage2D()({"image": str(nii), "frame": 2, "axis": 2})
    _check(image, (1, 4, 3), "nifti")
    np.testing.assert_array_equal(image[0].numpy(), vol[:, :, 2].T[::-1, ::-1])
    with pytest.raises(DataError, match="no 'frame'"):
        ReadImage2D()(str(nii))
    npz = tmp_path / "m.npz"
    np.savez(npz, test_images=np.full((2, 5, 5), 200, np.uint8), test_labels=np.array([[0], [1]]))
    image = ReadImage2D()(build_datalist(npz, split="test")[1])
    _check(image, (1, 5, 5), "npz")
    assert image.max() == 200 and image.meta["value_range"] == (0.0, 255.0)


def test_phantom_entries():
    entry = build_datalist(None, phantom_count=2, phantom_size=32)[0]
    item = ReadImage2Dd(keys=("image", "heart_mask"))(entry)
    _check(item["image"], (1, 32, 32), "phantom")
    assert item["image"].meta["value_range"] == (0.0, 1.0) and 0.0 <= item["image"].min() <= item["image"].max() <= 1.0
    assert item["heart_mask"].shape == (1, 32, 32) and item["label"] == entry["label"]
    assert isinstance(entry["image"], np.ndarray)  # the input entry is not modified


def test_dict_version_with_mask_and_missing_keys(tmp_path):
    image = write_png(tmp_path / "i.png", np.full((4, 4), 9, np.uint8))
    mask = write_png(tmp_path / "m.png", np.full((4, 4), 1, np.uint8))
    out = ReadImage2Dd(keys=("image", "mask"))({"image": str(image), "mask": str(mask), "label": 3})
    assert out["image"].max() == 9 and out["mask"].max() == 1 and out["label"] == 3
    assert "mask" not in ReadImage2Dd(keys=("image", "mask"), allow_missing_keys=True)({"image": str(image)})
    with pytest.raises(KeyError):
        ReadImage2Dd(keys=("image", "mask"))({"image": str(image)})


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="gone.png: file not found"):
        ReadImage2D()({"image": str(tmp_path / "gone.png")})
    (tmp_path / "x.dcm").write_bytes(b"nothing")
    with pytest.raises(DataError, match="x.dcm: cannot read DICOM pixel data"):
        ReadImage2D()(str(tmp_path / "x.dcm"))


def test_batches_with_none_meta_collate_and_decollate(tmp_path):
    write_ct_series(tmp_path / "ct", 3)
    write_enhanced_ct(tmp_path / "enh" / "e.dcm", frames=2)  # no window in the header: None meta
    for folder in ("ct", "enh"):
        loader = DataLoader(Dataset(build_datalist(tmp_path / folder), ReadImage2Dd()), batch_size=2)
        batch = next(iter(loader))
        assert batch["image"].shape == (2, 1, 8, 8)
        items = decollate_batch(batch)
        assert items[0]["image"].meta["source_kind"] == "dicom"
    assert batch["image"].meta["window_center"] is None
