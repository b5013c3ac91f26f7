"""Load a script of ``benchmarks/quality`` as a module (the scripts are not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

QUALITY = Path(__file__).resolve().parents[2] / "benchmarks" / "quality"


@pytest.fixture
def quality_script():
    """``quality_script("time_to_quality")``: the script ``benchmarks/quality/time_to_quality.py``, imported."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, QUALITY / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
