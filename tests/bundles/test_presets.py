"""Every preset of ``configs/presets`` layers over ``bundles/medfusion/train.json``, trains one tiny iteration and
``sample.json`` samples it with the sampler the preset sets, unasked; a preset's schedule options can then be overridden one by one."""

from __future__ import annotations

import json

import pytest
import tiny_runs
from monai.bundle import run

from monai_synth.bundle_overrides import UnknownOverrideError, check_overrides
from monai_synth.engines.checkpoint import load_state

TRAIN = tiny_runs.BUNDLES / "medfusion" / "train.json"
PRESETS = sorted((tiny_runs.REPO / "configs" / "presets").glob("*.json"))
#: what each preset must make of the run (a preset added without an entry here fails the test)
EXPECTED = {
    "paper": {"prediction": "epsilon", "kind": "scaled_linear", "sampler": "ddim",
              "overrides": {"discriminator_def#num_layers_d": 1}},  # the paper's 3 layers need more than 16 px
    "rectified_flow": {"prediction": "velocity", "kind": "rectified_flow", "sampler": "euler",
                       "sample_method": "logit-normal"},
    "edm": {"prediction": "edm", "kind": "edm", "sampler": "edm_heun", "sigma_data": 1.0},
}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_trains_one_iteration_and_samples_with_its_sampler(preset, tmp_path):
    expected = EXPECTED[preset.stem]
    run(config_file=[str(TRAIN), str(preset)], output_dir=str(tmp_path / "run"),
        **{**tiny_runs.MEDFUSION, **expected.get("overrides", {})})
    final = load_state(tmp_path / "run" / "diffusion" / "final.pt")
    schedule = final["noise_schedule_def"]
    assert final["prediction"] == expected["prediction"] and schedule["kind"] == expected["kind"]
    for option in ("sample_method", "sigma_data"):
        if option in expected:
            assert schedule[option] == expected[option]
    sampler = json.loads((tmp_path / "run" / "metrics.json").read_text())["sampler"]["sampler"]
    assert sampler == expected["sampler"]
    # sample.json takes the run's own sampler: no flag needed for a flow or EDM run
    run(config_file=str(tiny_runs.BUNDLES / "medfusion" / "sample.json"), output_dir=str(tmp_path / "samples"),
        checkpoint_dir=str(tmp_path / "run"), num_samples=1, class_label=1, steps=2, device="cpu")
    assert len(list((tmp_path / "samples").glob("*.png"))) == 1
    record = json.loads((tmp_path / "samples" / "manifest.jsonl").read_text().splitlines()[0])
    assert record["sampler"] == expected["sampler"] and record["steps"] == 2


def test_a_presets_schedule_option_can_be_overridden_alone():
    edm = tiny_runs.REPO / "configs" / "presets" / "edm.json"
    check_overrides(["noise_schedule#sigma_data", "noise_schedule#p_mean"], [TRAIN, edm])
    with pytest.raises(UnknownOverrideError, match="noise_schedule#sigma_data"):
        check_overrides(["noise_schedule#sigma_data"], [TRAIN])  # train.json's DDPM schedule has no sigma_data


def test_min_snr_gamma_is_a_setting_of_train_json(tmp_path):
    check_overrides(["diffusion_step#min_snr_gamma"], [TRAIN])
    overrides = {**tiny_runs.MEDFUSION, "diffusion_step#min_snr_gamma": 5.0}
    run(config_file=str(TRAIN), output_dir=str(tmp_path / "run"), **overrides)
    record = json.loads((tmp_path / "run" / "run_record.json").read_text())
    assert record["settings"]["diffusion_step#min_snr_gamma"] == 5.0
    with pytest.raises(Exception) as err:
        run(config_file=str(TRAIN), output_dir=str(tmp_path / "bad"), **{**overrides, "diffusion_step#min_snr_gamma": -1})
    assert "min_snr_gamma must be positive" in str(err.value) + str(err.value.__cause__)
