"""Every Medfusion bundle config runs for one tiny iteration; outputs are complete and marked synthetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from monai.bundle import run

from monai_synth.engines.checkpoint import load_state

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MEDFUSION_TINY = {
    "image_size": 16,
    "phantom_count": 8,
    "batch_size": 4,
    "autoencoder_batch_size": 4,
    "autoencoder_epochs": 1,
    "diffusion_epochs": 1,
    "adversarial_start_epoch": 0,
    "precision": "fp32",
    "autoencoder_precision": "fp32",
    "autoencoder_def#channels": [8, 16],
    "autoencoder_def#norm_num_groups": 8,
    "autoencoder_def#latent_channels": 2,
    "discriminator_def#channels": 8,
    "unet_def#channels": [16, 32],
    "unet_def#attention_levels": [False, True],
    "unet_def#norm_num_groups": 8,
    "unet_def#num_head_channels": 8,
    "noise_schedule#num_steps": 20,
    "sample#steps": 2,
    "sample#per_class": 2,
    "checkpoint_every": 1,
    "log_every": 1,
    "device": "cpu",
    "evaluation#interval": 0,
}



BUNDLE = REPO / "bundles" / "medfusion"


def _train(out, **extra):
    run(config_file=str(BUNDLE / "train.json"), output_dir=str(out), **{**MEDFUSION_TINY, **extra})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("medfusion")
    _train(out, **{"evaluation#interval": 1, "evaluation#num_samples": 8, "evaluation#steps": 2})
    return out


def test_train_writes_everything(trained):
    for name in ("samples_grid_synthetic.png", "real_grid.png", "loss_curves.png", "metrics.json",
                 "autoencoder/final.pt", "diffusion/final.pt"):
        assert (trained / name).is_file(), name
    assert list((trained / "diffusion" / "tensorboard").glob("events.out.tfevents.*"))
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["num_classes"] == 2 and metrics["image_size"] == 16
    assert set(metrics["phantom_ctr_of_samples"]) == {"class_0", "class_1"}
    fid = metrics["fidelity_at_end_of_training"]
    assert fid["fid"] > 0 and 0 <= fid["precision"] <= 1 and 0 <= fid["recall"] <= 1
    assert (trained / "diffusion" / "best_fid.pt").is_file()
    final = load_state(trained / "diffusion" / "final.pt")
    assert {"unet", "unet_ema", "latent_scale", "history"} <= set(final)
    assert final["latent_scale"] > 0


def test_channel_latent_normalisation_trains_and_samples(tmp_path):
    _train(tmp_path / "run", latent_norm="channel")
    final = load_state(tmp_path / "run" / "diffusion" / "final.pt")
    assert final["latent_norm"] == "channel" and len(final["latent_scale"]) == len(final["latent_shift"]) == 2
    run(config_file=str(BUNDLE / "sample.json"), output_dir=str(tmp_path / "s"), checkpoint_dir=str(tmp_path / "run"),
        num_samples=2, class_label=1, steps=2, device="cpu")
    assert len(list((tmp_path / "s").glob("*.png"))) == 2


def test_finished_phases_are_not_retrained(trained):
    stamps = {p: (trained / p).stat().st_mtime_ns for p in ("autoencoder/final.pt", "diffusion/final.pt")}
    _train(trained)
    assert stamps == {p: (trained / p).stat().st_mtime_ns for p in stamps}


@pytest.mark.parametrize("fmt,suffix", [("png", ".png"), ("dicom", ".dcm"), ("nifti", ".nii.gz")])
def test_sample_config(trained, tmp_path, fmt, suffix):
    out = tmp_path / fmt
    common = dict(checkpoint_dir=str(trained), num_samples=3, class_label=1, steps=2, batch_size=2, device="cpu")
    run(config_file=str(BUNDLE / "sample.json"), output_dir=str(out), format=fmt, **common)
    files = sorted(p for p in out.rglob(f"*{suffix}"))
    assert len(files) == 3
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(r["synthetic"] and r["condition"]["class_label"] == 1 for r in lines)
    assert {r["seed"] for r in lines} == {0, 1, 2}
    own = json.loads((trained / "metrics.json").read_text())["sampler"]  # sample.json leaves these to the run
    assert all((r["sampler"], r["eta"], r["guidance_scale"], r["steps"]) == (own["sampler"], own["eta"],
               own["guidance_scale"], 2) for r in lines)  # fmt: skip
    if fmt == "dicom":
        import pydicom

        ds = pydicom.dcmread(files[0])
        assert ds.SyntheticData == "YES" and "SYNTHETIC" in ds.SeriesDescription.upper()


def test_sample_same_seed_same_images(trained, tmp_path):
    from PIL import Image
    import numpy as np

    common = dict(checkpoint_dir=str(trained), num_samples=2, class_label=0, steps=2, device="cpu", seed=5)
    run(config_file=str(BUNDLE / "sample.json"), output_dir=str(tmp_path / "a"), batch_size=2, **common)
    run(config_file=str(BUNDLE / "sample.json"), output_dir=str(tmp_path / "b"), batch_size=1, **common)
    a = sorted((tmp_path / "a").glob("*.png"))
    b = sorted((tmp_path / "b").glob("*.png"))
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        diff = np.abs(np.asarray(Image.open(pa), dtype=int) - np.asarray(Image.open(pb), dtype=int)).max()
        assert diff <= 1  # batch composition changes float summation order only


def test_sampling_settings_default_to_the_runs_own(trained):
    from monai_synth.engines.medfusion import load_medfusion
    from monai_synth.engines.medfusion.pipeline import MedfusionPipeline

    model = load_medfusion(trained)
    recorded = json.loads((trained / "metrics.json").read_text())["sampler"]
    assert model["sampling"] == {k: recorded[k] for k in ("sampler", "steps", "eta", "guidance_scale")}
    own = MedfusionPipeline(model, None, None, None, None).settings()
    assert own == {**model["sampling"], "steps": int(recorded["steps"])}
    given = MedfusionPipeline(model, "dpmpp_2m", 3, None, 1.5).settings()
    assert given == {"sampler": "dpmpp_2m", "steps": 3, "eta": float(recorded["eta"]), "guidance_scale": 1.5}
    with pytest.raises(ValueError, match="records no guidance_scale to sample with .*pass --guidance_scale"):
        MedfusionPipeline({**model, "sampling": {}}, "ddim", 2, 0.0, None)


def test_sample_rejects_unknown_class(trained, tmp_path):
    with pytest.raises(RuntimeError) as err:  # MONAI wraps errors of config expressions
        run(config_file=str(BUNDLE / "sample.json"), output_dir=str(tmp_path), checkpoint_dir=str(trained),
            class_label=7, num_samples=1, steps=2, device="cpu")
    assert isinstance(err.value.__cause__, ValueError) and "class_label" in str(err.value.__cause__)


def test_metadata_verifies_offline():
    from monai.bundle import verify_metadata

    verify_metadata(meta_file=str(BUNDLE / "metadata.json"),
                    filepath=str(REPO / "monai_synth" / "schemas" / "bundle_meta_schema.json"))


def test_paper_preset_layers_and_builds():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(BUNDLE / "train.json"), str(REPO / "configs" / "presets" / "paper.json")])
    assert parser["image_size"] == 256 and parser["autoencoder_def"]["latent_channels"] == 8
    assert parser["unet_def"]["channels"] == [256, 256, 512, 1024]
    assert parser["unet_def"]["_target_"] == "monai.networks.nets.DiffusionModelUNet"  # the preset changes settings only
    vae = parser.get_parsed_content("autoencoder_def")()
    assert parser.get_parsed_content("unet_def")(num_class_embeds=3).conv_in.conv.out_channels == 256
    assert vae.compression == 8


def test_multi_gpu_override_two_processes_gloo(tmp_path):
    """torchrun with 2 CPU processes (gloo): DDP training, rank-0-only writing."""
    overrides = []
    for k, v in {**MEDFUSION_TINY, "phantom_count": 16}.items():
        overrides += [f"--{k}", json.dumps(v) if not isinstance(v, str) else v]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "monai.bundle", "run", "--config_file",
           f"['{BUNDLE / 'train.json'}','{BUNDLE / 'multi_gpu_train.json'}']", "--output_dir", str(tmp_path), *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "diffusion" / "final.pt").is_file() and (tmp_path / "metrics.json").is_file()
    assert len(list((tmp_path / "diffusion" / "tensorboard").glob("events.*"))) == 1  # rank 0 only


class IterationProbe:
    """A stand-in tracking handler (MLflow itself is an optional extra) that counts iterations."""

    seen: list[float] = []

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: IterationProbe.seen.append(e.state.output["loss"]))


def test_tracking_settings_attach_handlers(tmp_path):
    """``--tracking`` (e.g. mlflow) appends its handler to ``train#handlers``; both phases' engines get it."""
    settings = {
        "handlers_id": {"trainer": {"id": "train#trainer", "handlers": "train#handlers"}},
        "configs": {"trainer": {"_target_": f"{__name__}.IterationProbe"}},
    }
    IterationProbe.seen.clear()
    _train(tmp_path, tracking=settings)
    assert len(IterationProbe.seen) == 4  # 2 autoencoder + 2 diffusion iterations


def test_tracking_mlflow_records_one_run(tmp_path):
    """``--tracking mlflow`` with MLflow itself: one run for both phases, its settings as parameters, losses per
    iteration and per epoch, and the sample grid and loss curves as artifacts."""
    from mlflow_store import artifact_names, metric_steps, recorded_runs, tracking_overrides

    _train(tmp_path / "run", **tracking_overrides(tmp_path))
    runs = recorded_runs(tmp_path)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    data = runs[0].data
    assert data.params["image_size"] == "16" and data.params["batch_size"] == "4"
    assert metric_steps(tmp_path, runs[0], "autoencoder/loss") == [1]  # one epoch each
    assert metric_steps(tmp_path, runs[0], "diffusion/loss") == [1]
    assert len(metric_steps(tmp_path, runs[0], "train_loss")) == 4  # 2 + 2 iterations
    assert {"diffusion_samples.png", "diffusion_loss_curves.png", "autoencoder_loss_curves.png"} <= artifact_names(
        tmp_path, runs[0])
