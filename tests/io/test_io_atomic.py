"""Atomic writes: nothing at the final path after an interrupted write; inputs never overwritten."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_synth.io import atomic_open, refuse_input_path, write_nifti, write_png, write_synthetic_dicom


class InterruptedWriteError(RuntimeError):
    """Raised by the tests to simulate a failure part-way through a write."""


def test_atomic_open_writes_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    with atomic_open(target) as handle:
        handle.write(b"hello")
        assert not target.exists()
    assert target.read_bytes() == b"hello"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_exception_mid_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(InterruptedWriteError), atomic_open(target) as handle:
        handle.write(b"partial")
        raise InterruptedWriteError
    assert list(tmp_path.iterdir()) == []


def test_exception_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(InterruptedWriteError), atomic_open(target) as handle:
        handle.write(b"new, partial")
        raise InterruptedWriteError
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    source = tmp_path / "input.png"
    source.write_bytes(b"original")
    link = tmp_path / "link.png"
    link.symlink_to(source)
    for path in (source, link, tmp_path / "." / "input.png"):
        with pytest.raises(ValueError, match="input file"):
            refuse_input_path(path, [source])
    with pytest.raises(ValueError, match="input file"):
        write_png(np.zeros((4, 4)), source, inputs=[source])
    assert source.read_bytes() == b"original"
    refuse_input_path(tmp_path / "other.png", [source, None])


def test_interrupted_png_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_save(self: Image.Image, fp, *args, **kwargs) -> None:
        fp.write(b"\x89PNG partial")
        raise InterruptedWriteError

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(InterruptedWriteError):
        write_png(np.zeros((4, 4)), tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_nifti_and_dicom_leave_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import monai_synth.io.dicom as dicom_module
    import monai_synth.io.nifti as nifti_module

    def failing_bytes(*args, **kwargs) -> bytes:
        raise InterruptedWriteError

    def failing_dcmwrite(handle, *args, **kwargs) -> None:
        handle.write(b"\x00" * 200)
        raise InterruptedWriteError

    monkeypatch.setattr(nifti_module, "_nifti_bytes", failing_bytes)
    monkeypatch.setattr(dicom_module.pydicom, "dcmwrite", failing_dcmwrite)
    with pytest.raises(InterruptedWriteError):
        write_nifti(np.zeros((4, 4)), tmp_path / "a.nii.gz")
    with pytest.raises(InterruptedWriteError):
        write_synthetic_dicom(np.zeros((4, 4)), tmp_path / "a.dcm")
    assert list(tmp_path.iterdir()) == []
