"""Fixtures of the audit tests: tiny trained Medfusion and StyleGAN2-ADA runs (the bundles' train.json, 16 px)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bundles"))

from tiny_runs import train_medfusion, train_stylegan2  # noqa: E402


@pytest.fixture(scope="session")
def tiny_medfusion(tmp_path_factory) -> Path:
    """A Medfusion run on 8 phantom images (2 classes), with its exported bundle in ``bundle/``."""
    return train_medfusion(tmp_path_factory.mktemp("medfusion") / "run")


@pytest.fixture(scope="session")
def tiny_stylegan2(tmp_path_factory) -> Path:
    return train_stylegan2(tmp_path_factory.mktemp("stylegan2") / "run")
