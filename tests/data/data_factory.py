"""Small writers and paths shared by the data-layer tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()


def shared(*parts: str) -> Path:
    """A path under the shared real data (``<repo>/../shared/data``), or skip the test when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 (8-bit) or uint16 (16-bit) grayscale, or (H, W, 3) uint8 RGB, PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_class_folder(root: Path) -> Path:
    """Classes ``b_tumor`` (two 8-bit PNGs, one nested) and ``a_normal`` (16-bit PNG, JPEG, 16-bit TIFF), 6 x 5."""
    write_png(root / "b_tumor" / "x1.png", np.full((6, 5), 7, np.uint8))
    write_png(root / "b_tumor" / "sub" / "x2.png", np.full((6, 5), 9, np.uint8))
    write_png(root / "a_normal" / "y1.png", np.full((6, 5), 40000, np.uint16))
    Image.fromarray(np.full((6, 5), 128, np.uint8)).save(root / "a_normal" / "y2.jpg", quality=95)
    Image.fromarray(np.full((6, 5), 1000, np.uint16)).save(root / "a_normal" / "y3.tif")
    return root


def write_nifti(path: Path, volume: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """Write a NIfTI file (default affine: 1 mm RAS+ voxels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(volume, np.eye(4) if affine is None else affine), str(path))
    return path


def truncate(path: Path, keep: float | int = 0.5) -> Path:
    """Cut a file to a fraction (float) or a number of bytes (int) of its size."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    return path


def fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    """SHA-256 and mtime of every file under ``root``: to check that inputs are never modified."""
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}
