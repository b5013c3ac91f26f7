"""One tiny trained run per model for all export tests (trained once per test session, about 5 s)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bundles"))

import tiny_runs  # noqa: E402


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders: ``medfusion``, ``med_cdiff`` (diffusion and pix2pix, sr) and ``stylegan2_ada``."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("export_runs")
    med_cdiff = tiny_runs.train_med_cdiff(root / "med_cdiff", "diffusion")
    tiny_runs.train_med_cdiff(med_cdiff, "pix2pix")
    return {"medfusion": tiny_runs.train_medfusion(root / "medfusion"), "med_cdiff": med_cdiff,
            "stylegan2_ada": tiny_runs.train_stylegan2(root / "stylegan2_ada")}


@pytest.fixture(scope="session")
def bundles(runs: dict[str, Path]) -> dict[str, Path]:
    """The bundles the training configs wrote: by kind, plus ``pix2pix`` for Med-cDiff's pix2pix model."""
    return {"medfusion": runs["medfusion"] / "bundle", "med_cdiff": runs["med_cdiff"] / "bundle_diffusion",
            "pix2pix": runs["med_cdiff"] / "bundle_pix2pix", "stylegan2_ada": runs["stylegan2_ada"] / "bundle"}
