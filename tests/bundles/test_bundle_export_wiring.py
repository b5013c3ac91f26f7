"""The training configs export their run, and exported inference configs keep the run-folder configs' defaults."""

from __future__ import annotations

import inspect
import json
import shutil

import tiny_runs
from monai_synth.engines.med_cdiff.infer import restore_to_folder
from monai_synth.export.inference_config import USER_SETTINGS, user_defaults
from monai_synth.io.bundle_configs import BUNDLES_ENV


def test_user_defaults_are_read_from_the_run_folder_configs(tmp_path, monkeypatch):
    """The exported bundle's defaults come from the run-folder configs themselves: edit one there, it follows."""
    for kind in USER_SETTINGS:
        name, keys, own = USER_SETTINGS[kind]
        config = json.loads((tiny_runs.BUNDLES / kind / name).read_text())
        assert user_defaults(kind) == {**own, **{k: config[k] for k in keys}}
    edited = tmp_path / "bundles"
    shutil.copytree(tiny_runs.BUNDLES, edited)
    sample = json.loads((edited / "medfusion" / "sample.json").read_text())
    sample["steps"], sample["guidance_scale"] = 7, 3.5
    (edited / "medfusion" / "sample.json").write_text(json.dumps(sample))
    monkeypatch.setenv(BUNDLES_ENV, str(edited))
    assert user_defaults("medfusion")["steps"] == 7 and user_defaults("medfusion")["guidance_scale"] == 3.5


def test_restore_to_folder_defaults_are_those_of_infer_json():
    """The Python entry point ``infer.json`` calls keeps no default of its own that differs from the config."""
    config = json.loads((tiny_runs.BUNDLES / "med_cdiff" / "infer.json").read_text())
    params = inspect.signature(restore_to_folder).parameters
    shared = [k for k, p in params.items() if p.default is not inspect.Parameter.empty and k in config]
    assert len(shared) >= 10
    assert {k: params[k].default for k in shared} == {k: config[k] for k in shared}


def test_training_configs_export_their_run():
    for kind in ("medfusion", "med_cdiff", "stylegan2_ada"):
        config = json.loads((tiny_runs.BUNDLES / kind / "train.json").read_text())
        assert config["bundle_export"]["_target_"] == "monai_synth.export.after_training.TrainingExport"
        assert config["run"][-1] == "$@bundle_export.run()"
