"""PNG (8/16-bit) and NIfTI (2D/3D) writers round-trip."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from monai_synth.io import affine_from_spacing, write_nifti, write_png


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.array(image)


@pytest.mark.parametrize("bits", [8, 16])
def test_png_round_trip(tmp_path: Path, bits: int) -> None:
    top = 2**bits - 1
    image = torch.linspace(-1, 1, 64, dtype=torch.float32).reshape(1, 8, 8)
    path = write_png(image, tmp_path / f"img{bits}.png", bits=bits)
    stored = _read_png(path)
    assert stored.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert stored.shape == (8, 8)
    assert stored.min() == 0 and stored.max() == top
    back = stored.astype(np.float64) / top * 2 - 1
    assert np.abs(back - image[0].numpy()).max() <= 1.0 / top + 1e-6


def test_png_value_range_clips(tmp_path: Path) -> None:
    image = np.array([[-500.0, 0.0], [250.0, 2000.0]])
    stored = _read_png(write_png(image, tmp_path / "hu.png", value_range=(0.0, 1000.0)))
    assert stored.tolist() == [[0, 0], [64, 255]]


def test_png_rgb_and_errors(tmp_path: Path) -> None:
    rgb = np.stack([np.full((4, 5), v) for v in (-1.0, 0.0, 1.0)])
    stored = _read_png(write_png(rgb, tmp_path / "rgb.png"))
    assert stored.shape == (4, 5, 3)
    assert stored[0, 0].tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match="grayscale"):
        write_png(rgb, tmp_path / "rgb16.png", bits=16)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        write_png(np.zeros((2, 4, 4)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="NaN"):
        write_png(np.full((4, 4), np.nan), tmp_path / "nan.png")
    with pytest.raises(ValueError, match="bits"):
        write_png(np.zeros((4, 4)), tmp_path / "b.png", bits=12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rgb.png"]


def test_nifti_2d_round_trip_with_spacing(tmp_path: Path) -> None:
    image = np.random.default_rng(0).normal(size=(1, 6, 7)).astype(np.float32) * 500
    path = write_nifti(image, tmp_path / "slice.nii.gz", pixel_spacing=(0.5, 0.8))
    loaded = nib.load(path)
    assert loaded.shape == (6, 7)
    np.testing.assert_allclose(np.asarray(loaded.dataobj), image[0])
    np.testing.assert_allclose(loaded.affine, np.diag([0.5, 0.8, 1.0, 1.0]))


def test_nifti_3d_round_trip(tmp_path: Path) -> None:
    volume = np.random.default_rng(1).normal(size=(3, 5, 4)) * 100
    affine = affine_from_spacing((0.7, 0.7), 2.5, origin=(1, 2, 3))
    path = write_nifti(volume, tmp_path / "vol.nii", affine=affine)
    loaded = nib.load(path)
    data = np.asarray(loaded.dataobj)
    assert data.shape == (5, 4, 3) and data.dtype == np.float32
    for s in range(3):
        np.testing.assert_allclose(data[..., s], volume[s], rtol=1e-6)
    np.testing.assert_allclose(loaded.affine, affine)


def test_nifti_integer_dtype_and_errors(tmp_path: Path) -> None:
    image = np.array([[0.4, 254.6], [3.0, 7.0]])
    path = write_nifti(image, tmp_path / "u8.nii.gz", dtype=np.uint8)
    data = np.asarray(nib.load(path).dataobj)
    assert data.dtype == np.uint8 and data.tolist() == [[0, 255], [3, 7]]
    with pytest.raises(ValueError, match="either affine"):
        write_nifti(image, tmp_path / "a.nii", affine=np.eye(4), pixel_spacing=(1, 1))
    with pytest.raises(ValueError, match=".nii"):
        write_nifti(image, tmp_path / "a.img")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u8.nii.gz"]
