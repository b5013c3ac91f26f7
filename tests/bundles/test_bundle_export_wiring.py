"""The training configs export their run, and exported inference configs keep the run-folder configs' defaults."""

from __future__ import annotations

import json

import tiny_runs
from monai_synth.export.inference_config import USER_DEFAULTS


def test_user_defaults_are_those_of_the_run_folder_configs():
    for kind, name in (("medfusion", "sample.json"), ("stylegan2_ada", "sample.json"), ("med_cdiff", "infer.json")):
        config = json.loads((tiny_runs.BUNDLES / kind / name).read_text())
        for key, value in USER_DEFAULTS[kind].items():
            if key not in ("output_dir",):
                assert config[key] == value, (kind, key)


def test_training_configs_export_their_run():
    for kind in ("medfusion", "med_cdiff", "stylegan2_ada"):
        config = json.loads((tiny_runs.BUNDLES / kind / "train.json").read_text())
        assert config["bundle_export"]["_target_"] == "monai_synth.export.after_training.TrainingExport"
        assert config["run"][-1] == "$@bundle_export.run()"
