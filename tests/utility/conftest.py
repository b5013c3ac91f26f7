"""Fixtures of the utility tests: constructed real and synthetic image folders (see utility_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from utility_data import write_class_folders


@pytest.fixture
def real(tmp_path: Path) -> Path:
    """Real images: ``train/`` (16 per class) and ``test/`` (10 per class), 16 px, three classes."""
    write_class_folders(tmp_path / "real" / "train", [16, 16, 16], seed=1)
    write_class_folders(tmp_path / "real" / "test", [10, 10, 10], seed=2)
    return tmp_path / "real"


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    """Synthetic images like the real ones, 24 per class."""
    return write_class_folders(tmp_path / "synthetic", [24, 24, 24], seed=3)
