"""The acceptance checks of an exported bundle, for all three models, with MONAI's own bundle tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow, ckpt_export, load, run, verify_metadata

import tiny_runs

KINDS = ["medfusion", "med_cdiff", "pix2pix", "stylegan2_ada"]


def _run_exported(bundle: Path, cwd: Path, subprocess_run: bool, monkeypatch: pytest.MonkeyPatch,
                  **overrides: object) -> None:
    """``python -m monai.bundle run --config_file BUNDLE/configs/inference.json`` in another folder: as a user
    types it (a subprocess, slow to start: one model), or ``monai.bundle.run`` (what that command calls)."""
    if not subprocess_run:
        monkeypatch.chdir(cwd)
        run(config_file=str(bundle / "configs" / "inference.json"), **overrides)
        return
    args = [f"--{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in overrides.items()]
    env = {**os.environ, "PYTHONPATH": str(tiny_runs.REPO)}
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(bundle / "configs" / "inference.json"),
           *args]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("kind", ["medfusion", "stylegan2_ada"])
def test_exported_inference_from_another_folder_equals_sample_json(runs, bundles, tmp_path, kind, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = {"num_samples": 3, "class_label": 1, "seed": 7, "batch_size": 2, "device": "cpu"}
    if kind == "medfusion":
        settings["steps"] = 2
    _run_exported(bundles[kind], elsewhere, kind == "medfusion", monkeypatch, output_dir="generated", **settings)
    monkeypatch.chdir(tmp_path)
    checkpoint = runs[kind] if kind == "medfusion" else runs[kind] / "checkpoints"
    run(config_file=str(tiny_runs.BUNDLES / kind / "sample.json"), checkpoint_dir=str(checkpoint),
        output_dir=str(tmp_path / "reference"), **settings)
    exported, reference = tiny_runs.pixels(elsewhere / "generated"), tiny_runs.pixels(tmp_path / "reference")
    assert len(reference) == 3 and exported.keys() == reference.keys()
    assert all(np.array_equal(exported[k], reference[k]) for k in reference)
    lines = [json.loads(x) for x in (elsewhere / "generated" / "manifest.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in lines] == [7, 8, 9] and all(r["synthetic"] for r in lines)
    model_pt = bundles[kind] / "models" / "model.pt"
    from monai_synth.io import sha256_file

    assert {r["checkpoint_sha256"] for r in lines} == {sha256_file(model_pt)}


@pytest.mark.parametrize("kind", ["med_cdiff", "pix2pix"])
def test_exported_restoration_equals_infer_json(runs, bundles, tmp_path, kind, monkeypatch):
    source = tiny_runs.phantom_pngs(tmp_path / "input")
    model = "diffusion" if kind == "med_cdiff" else "pix2pix"
    settings = {"input": str(source), "steps": 2, "seed": 3, "device": "cpu", "progress": False}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _run_exported(bundles[kind], elsewhere, False, monkeypatch, output_dir=str(tmp_path / "exported"), **settings)
    run(config_file=str(tiny_runs.BUNDLES / "med_cdiff" / "infer.json"), checkpoint_dir=str(runs["med_cdiff"]),
        model=model, output_dir=str(tmp_path / "reference"), **settings)
    exported, reference = tiny_runs.pixels(tmp_path / "exported"), tiny_runs.pixels(tmp_path / "reference")
    assert len(reference) == 2 and exported.keys() == reference.keys()
    assert all(np.array_equal(exported[k], reference[k]) for k in reference)


@pytest.mark.parametrize("kind", KINDS)
def test_monai_bundle_load_returns_the_trained_network(bundles, kind):
    net = load(name=bundles[kind].name, bundle_dir=str(bundles[kind].parent), workflow_type="inference",
               device="cpu")
    trained = torch.load(bundles[kind] / "models" / "model.pt", weights_only=True)
    state = net.state_dict()
    assert state.keys() == trained.keys()
    assert all(torch.equal(state[k], v) for k, v in trained.items())


@pytest.mark.parametrize("kind", KINDS)
def test_inference_workflow_has_every_required_property(bundles, kind):
    configs = bundles[kind] / "configs"
    workflow = ConfigWorkflow(config_file=str(configs / "inference.json"), meta_file=str(configs / "metadata.json"),
                              workflow_type="inference", logging_file=False)
    workflow.initialize()
    assert workflow.check_properties() == []
    assert isinstance(workflow.network_def, torch.nn.Module)


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_verifies_against_the_official_schema(bundles, kind, tmp_path):
    if not tiny_runs.SCHEMA.is_file():
        pytest.skip("shared/reference/meta_schema_20240725.json is not there")
    meta = bundles[kind] / "configs" / "metadata.json"
    verify_metadata(meta_file=str(meta), filepath=str(tiny_runs.SCHEMA))
    broken = json.loads(meta.read_text())
    broken["network_data_format"]["outputs"]["pred"]["value_range"] = ["-inf", "inf"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="is not of type .number."):
        verify_metadata(meta_file=str(tmp_path / "broken.json"), filepath=str(tiny_runs.SCHEMA))


def _ckpt_export(bundle: Path, out: Path) -> None:
    ckpt_export(net_id="network_def", filepath=str(out), config_file=str(bundle / "configs" / "inference.json"),
                bundle_root=str(bundle))


def test_ckpt_export_scripts_the_pix2pix_generator(bundles, tmp_path):
    _ckpt_export(bundles["pix2pix"], tmp_path / "model.ts")
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    net = load(name="bundle_pix2pix", bundle_dir=str(bundles["pix2pix"].parent), workflow_type="inference",
               device="cpu").eval()
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    assert torch.allclose(scripted(x), net(x), atol=1e-6)
    assert "Yes:" in (bundles["pix2pix"] / "docs" / "README.md").read_text()


@pytest.mark.parametrize("kind", ["medfusion", "med_cdiff", "stylegan2_ada"])
def test_ckpt_export_fails_where_the_readme_says_so(bundles, tmp_path, kind):
    with pytest.raises(RuntimeError):
        _ckpt_export(bundles[kind], tmp_path / "model.ts")
    assert not (tmp_path / "model.ts").exists()
    text = (bundles[kind] / "docs" / "README.md").read_text()
    assert "## TorchScript\n\nNo:" in text and "ckpt_export` therefore fails" in text


def test_exported_restorer_writes_a_derived_dicom_series_like_infer_json(runs, bundles, tmp_path):
    import pydicom

    series = tiny_runs.REPO / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"
    if not series.is_dir():
        pytest.skip(f"{series} not present")
    settings = {"input": str(series), "simulate": True, "batch_size": 18, "device": "cpu", "progress": False}
    run(config_file=str(bundles["pix2pix"] / "configs" / "inference.json"), output_dir=str(tmp_path / "exported"),
        **settings)
    run(config_file=str(tiny_runs.BUNDLES / "med_cdiff" / "infer.json"), checkpoint_dir=str(runs["med_cdiff"]),
        model="pix2pix", output_dir=str(tmp_path / "reference"), **settings)
    exported = sorted((tmp_path / "exported").glob("*/*.dcm"))
    reference = sorted((tmp_path / "reference").glob("*/*.dcm"))
    assert len(exported) == len(reference) == 18
    assert len({p.parent for p in exported}) == len({p.parent for p in reference}) == 1
    first = pydicom.dcmread(exported[0])
    assert "DERIVED" in first.ImageType and first.SyntheticData == "YES"
    from monai_synth.io import sha256_file

    assert sha256_file(bundles["pix2pix"] / "models" / "model.pt") in first.DerivationDescription
    for a, b in zip(exported, reference):
        assert np.array_equal(pydicom.dcmread(a).pixel_array, pydicom.dcmread(b).pixel_array)
