"""Compressed DICOM in: each transfer syntax is read equal to the source pixels, or refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, MPEG2MPML, RLELossless

from monai_synth.data import ReadImage2D
from monai_synth.data.dicom_codecs import can_decode
from monai_synth.data.errors import DataError

CT_SERIES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"


def _source(tmp_path: Path) -> Path:
    """A small CT slice (64 x 64 crop of the real series, or pydicom's own CT when absent)."""
    files = sorted(CT_SERIES.glob("*.dcm"))
    ds = pydicom.dcmread(files[0] if files else get_testdata_file("CT_small.dcm"))
    ds.PixelData = np.ascontiguousarray(ds.pixel_array[:64, :64]).tobytes()
    ds.Rows, ds.Columns = 64, 64
    path = tmp_path / "source.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless], ids=lambda s: s.name)
def test_lossless_syntaxes_read_equal_to_source(tmp_path: Path, syntax: str) -> None:
    source = _source(tmp_path)
    if not can_decode(syntax):
        pytest.fail(f"no decoder for {syntax}: install the codecs extra")
    ds = pydicom.dcmread(source)
    ds.compress(syntax)
    path = tmp_path / "compressed.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == syntax
    expected = ReadImage2D()(str(source))
    got = ReadImage2D()(str(path))
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert got.meta["modality"] == "CT" and float(got.min()) < -500  # HU through the modality LUT


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm", "MR_small_RLE.dcm"])
def test_files_encoded_by_other_tools(name: str) -> None:
    expected = ReadImage2D()(get_testdata_file("MR_small.dcm"))
    np.testing.assert_array_equal(ReadImage2D()(get_testdata_file(name)).numpy(), expected.numpy())


def test_syntax_without_decoder_is_refused_by_name(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_source(tmp_path))
    ds.PixelData = pydicom.encaps.encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    path = tmp_path / "video.dcm"
    ds.save_as(path, enforce_file_format=True)
    before = path.read_bytes()
    with pytest.raises(DataError) as info:
        ReadImage2D()(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read DICOM pixel data of frame 0: no decoder for transfer syntax")
    assert MPEG2MPML.name in message and str(MPEG2MPML) in message
    assert path.read_bytes() == before
