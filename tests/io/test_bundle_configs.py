"""Bundle configs are found from a checkout, an installed package or MONAI_SYNTH_BUNDLES; LICENSE matches;
their values are read as written."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from monai_synth.io import bundle_configs

REPO = Path(__file__).resolve().parents[2]


def test_checkout_bundles_are_found():
    assert bundle_configs.bundle_file("medfusion", "train.json") == REPO / "bundles" / "medfusion" / "train.json"


def test_installed_prefix_and_environment_variable(tmp_path, monkeypatch):
    installed = tmp_path / "prefix" / "share" / "monai_synth" / "bundles" / "medfusion"
    installed.mkdir(parents=True)
    (installed / "train.json").write_text("{}")
    monkeypatch.setattr(bundle_configs, "BUNDLES", tmp_path / "no_checkout")  # as after `pip install .`
    monkeypatch.setattr(bundle_configs.sys, "prefix", str(tmp_path / "prefix"))
    assert bundle_configs.bundle_file("medfusion", "train.json") == installed / "train.json"
    monkeypatch.setenv("MONAI_SYNTH_BUNDLES", str(REPO / "bundles"))
    assert bundle_configs.bundle_file("medfusion", "train.json") == REPO / "bundles" / "medfusion" / "train.json"
    with pytest.raises(FileNotFoundError, match=r"bundle config medfusion/nope\.json not found \(looked in: .*"
                                                "MONAI_SYNTH_BUNDLES"):
        bundle_configs.bundle_file("medfusion", "nope.json")


def test_every_bundle_config_is_shipped_and_the_license_matches():
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    shipped = " ".join(setup["options.data_files"].values())
    for bundle in ("medfusion", "med_cdiff", "stylegan2_ada"):
        assert f"bundles/{bundle}/*.json" in shipped
    assert setup["metadata"]["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_config_defaults_reads_the_values_and_names_a_missing_key():
    values = bundle_configs.config_defaults("med_cdiff", "infer.json", ["sampler", "strength"])
    assert set(values) == {"sampler", "strength"} and 0 < values["strength"] <= 1
    with pytest.raises(KeyError, match=r"infer\.json has no no_such_key"):
        bundle_configs.config_defaults("med_cdiff", "infer.json", ["sampler", "no_such_key"])
