"""The metadata.json of every bundle in ``bundles/`` passes MONAI's official metadata schema (not only the offline copy)."""

from __future__ import annotations

import pytest
from monai.bundle import verify_metadata

import tiny_runs

BUNDLES = tiny_runs.REPO / "bundles"


@pytest.mark.parametrize("name", ["medfusion", "med_cdiff", "stylegan2_ada"])
def test_source_bundle_metadata_verifies_against_the_official_schema(name):
    if not tiny_runs.SCHEMA.is_file():
        pytest.skip("shared/reference/meta_schema_20240725.json is not there")
    verify_metadata(meta_file=str(BUNDLES / name / "metadata.json"), filepath=str(tiny_runs.SCHEMA))
