"""Fixtures of the data-layer tests (helpers live in data_factory.py and dicom_factory.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # make the factories importable whatever pytest's import mode
    sys.path.insert(0, str(HERE))

from data_factory import write_class_folder  # noqa: E402


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """Classes ``b_tumor`` (two 8-bit PNGs, one nested) and ``a_normal`` (16-bit PNG, JPEG, 16-bit TIFF)."""
    return write_class_folder(tmp_path / "images")
