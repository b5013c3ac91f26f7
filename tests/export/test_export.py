"""monai_synth.export: the written bundle, the refused output folders, the Python API, the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import run

import tiny_runs
from monai_synth.cli import main
from monai_synth.export import export_run, load_exported
from monai_synth.io import sha256_file


@pytest.mark.parametrize("kind", ["medfusion", "med_cdiff", "pix2pix", "stylegan2_ada"])
def test_bundle_layout_and_contents(runs, bundles, kind):
    b = bundles[kind]
    for name in ("configs/inference.json", "configs/metadata.json", "models/model.pt", "docs/README.md", "LICENSE"):
        assert (b / name).is_file(), name
    assert (b / "models" / "autoencoder.pt").is_file() == (kind == "medfusion")
    for weights in (b / "models").glob("*.pt"):
        state = torch.load(weights, weights_only=True)
        assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    meta = json.loads((b / "configs" / "metadata.json").read_text())
    assert meta["schema"].endswith("/meta_schema_20240725.json") and meta["schema"].startswith("https://")
    assert "synthetic" in meta["intended_use"] and "must not be used for diagnosis" in meta["intended_use"]
    run_dir = runs["med_cdiff" if kind == "pix2pix" else kind]
    metrics_file = {"med_cdiff": "diffusion_metrics.json", "pix2pix": "pix2pix_metrics.json"}.get(kind, "metrics.json")
    measured = json.loads((run_dir / metrics_file).read_text())
    figure = {"medfusion": "autoencoder_psnr_db", "med_cdiff": "settings", "pix2pix": "settings",
              "stylegan2_ada": "images_per_second"}[kind]
    assert meta["eval_metrics"][figure] == measured[figure]
    assert "written_at" not in meta["eval_metrics"] and "device" not in meta["eval_metrics"]
    config = json.loads((b / "configs" / "inference.json").read_text())
    assert config["network"] == "$@network_def.to(@device)" and config["evaluator"]["_target_"].startswith(
        "monai_synth.export.pipelines.")
    assert config["network_def"]["_target_"].count(".") >= 3 and config["run"] == ["$@evaluator.run()"]
    readme = (b / "docs" / "README.md").read_text()
    assert "Synthetic, not for diagnosis" in readme and "## Figures measured on the training run" in readme
    assert "Apache License" in (b / "LICENSE").read_text() and "Version 2.0" in (b / "LICENSE").read_text()


def test_exported_weights_are_the_sampling_weights(runs, bundles):
    from monai_synth.engines.checkpoint import load_state

    final = load_state(runs["medfusion"] / "diffusion" / "final.pt")
    model = torch.load(bundles["medfusion"] / "models" / "model.pt", weights_only=True)
    assert all(torch.equal(model[k], v) for k, v in final["unet_ema"].items())
    assert any(not torch.equal(final["unet"][k], v) for k, v in final["unet_ema"].items())  # EMA, not raw


def test_load_exported_generates_what_the_bundle_writes(runs, bundles, tmp_path):
    b = load_exported(bundles["medfusion"])
    assert b.kind == "medfusion" and b.task is None and b.settings["num_classes"] == 2
    own = json.loads((runs["medfusion"] / "metrics.json").read_text())["sampler"]  # the run's own: steps 2
    assert b.settings["image_size"] == 16 and b.settings["sampler"] == {
        **{k: own[k] for k in ("sampler", "steps", "eta", "guidance_scale")}, "precision": "fp32"}
    assert b.model_sha256 == sha256_file(bundles["medfusion"] / "models" / "model.pt")
    images = b.generate([1, 0], [5, 9], steps=2)
    assert images.shape == (2, 1, 16, 16) and images.abs().max() <= 1
    run(config_file=str(tiny_runs.BUNDLES / "medfusion" / "sample.json"), checkpoint_dir=str(bundles["medfusion"]),
        output_dir=str(tmp_path / "s"), num_samples=1, class_label=0, steps=2, guidance_scale=2.0, seed=9,
        device="cpu")
    written = tiny_runs.pixels(tmp_path / "s")["synthetic_class0_seed9_00000.png"]
    expected = ((images[1, 0].double() + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    assert abs(written.astype(int) - expected.astype(int)).max() <= 1


def test_load_exported_stylegan2_matches_the_sample_writer(runs, bundles, tmp_path):
    b = load_exported(bundles["stylegan2_ada"])
    assert b.kind == "stylegan2_ada" and b.task is None and b.settings["num_classes"] == 2
    images = b.generate(torch.tensor([1, 1]), [3, 4])
    run(config_file=str(tiny_runs.BUNDLES / "stylegan2_ada" / "sample.json"), device="cpu", num_samples=2, seed=3,
        class_label=1, checkpoint_dir=str(runs["stylegan2_ada"] / "checkpoints"), output_dir=str(tmp_path / "s"))
    written = tiny_runs.pixels(tmp_path / "s")
    for k, name in enumerate(sorted(written)):
        expected = ((images[k, 0].double() + 1) / 2 * 255).round().to(torch.uint8).numpy()
        assert abs(written[name].astype(int) - expected.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="labels must be in 0..1"):
        b.generate([2], [0])


def test_load_exported_med_cdiff_gives_the_run_folders_restorer(runs, bundles, tmp_path):
    from monai_synth.engines.med_cdiff.restorer import load_restorer

    b = load_exported(bundles["pix2pix"])
    assert b.kind == "med_cdiff" and b.task == "sr" and b.settings["model"] == "pix2pix"
    reference = load_restorer(runs["med_cdiff"], "pix2pix")
    condition = torch.rand(2, 1, 16, 16) * 2 - 1
    assert torch.equal(b.restorer(condition, [0, 1]), reference(condition, [0, 1]))
    with pytest.raises(TypeError, match="restorer"):
        b.generate([0], [0])
    with pytest.raises(ValueError, match="holds a med_cdiff pix2pix model"):
        load_restorer(bundles["pix2pix"], "diffusion")
    from monai_synth.engines.med_cdiff.infer import restore_to_folder

    source = tiny_runs.phantom_pngs(tmp_path / "in")
    paths = restore_to_folder(str(source), str(tmp_path / "out"), load_restorer(bundles["pix2pix"], "pix2pix"),
                              progress=False)
    assert len(paths) == 2


def test_export_command_and_refused_folders(runs, tmp_path, capsys):
    run_dir = runs["stylegan2_ada"]
    assert main(["export", str(run_dir), str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "models" / "model.pt").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    refused = {
        str(tmp_path / "b"): "not empty",
        str(run_dir): "run folder itself",
        str(run_dir / "checkpoints" / "bundle"): "inside the run's input",
    }
    for out, reason in refused.items():
        capsys.readouterr()
        assert main(["export", str(run_dir), out]) == 1
        assert reason in capsys.readouterr().err
    assert main(["export", str(tmp_path), str(tmp_path / "c")]) == 1
    assert "no finished training run" in capsys.readouterr().err
    assert main(["export", str(runs["medfusion"]), str(tmp_path / "d"), "--model", "pix2pix"]) == 1


def test_a_failed_export_leaves_nothing(runs, tmp_path, monkeypatch):
    import monai_synth.export.writer as writer

    def broken(run, folder):
        (folder / "configs").mkdir()
        raise OSError("disk full")

    monkeypatch.setattr(writer, "write_bundle_files", broken)
    with pytest.raises(OSError, match="disk full"):
        export_run(runs["medfusion"], tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_med_cdiff_exports_the_chosen_model(runs, tmp_path):
    export_run(runs["med_cdiff"], tmp_path / "p", model="pix2pix")
    settings = json.loads((tmp_path / "p" / "configs" / "inference.json").read_text())["model_settings"]
    assert settings["model"] == "pix2pix" and settings["kind"] == "med_cdiff"
    with pytest.raises(FileNotFoundError, match="no trained srgan model"):
        export_run(runs["med_cdiff"], tmp_path / "s", model="srgan")
