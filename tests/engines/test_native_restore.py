"""A trained Med-cDiff model restores a real 512 x 512 CT at its own grid and keeps HU outside its window."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from monai.bundle import run

from monai_synth.engines.med_cdiff.infer import restore_to_folder
from monai_synth.engines.med_cdiff.restorer import load_restorer
from monai_synth.engines.native_restore import carry_outside_window, sliding_restore

REPO = Path(__file__).resolve().parents[2]
CT = REPO / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"
TINY = {
    "task": "denoise", "image_size": 32, "phantom_count": 4, "batch_size": 4, "epochs": 1, "precision": "fp32",
    "channels_last": False, "device": "cpu", "models#diffusion#unet_def#channels": [8, 16],
    "models#diffusion#unet_def#attention_levels": [False, False], "models#diffusion#unet_def#norm_num_groups": 8,
    "models#diffusion#unet_def#num_head_channels": 8, "noise_schedule#num_steps": 20, "sample#steps": 1,
    "report_images": 1, "checkpoint_every": 1, "log_every": 1,
}  # fmt: skip


def _hu(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_real_ct_restored_at_512_keeps_air_and_bone(tmp_path):
    if not CT.is_dir():
        pytest.skip(f"{CT} not present")
    run(config_file=str(REPO / "bundles" / "med_cdiff" / "train.json"), output_dir=str(tmp_path / "run"), **TINY)
    slices = sorted(CT.glob("*.dcm"), key=lambda p: -_hu(pydicom.dcmread(p)).max())[:2]  # two slices with bone
    source = tmp_path / "ct"
    source.mkdir()
    for p in slices:
        shutil.copy(p, source / p.name)
    restorer = load_restorer(tmp_path / "run", "diffusion", sampler="ddim", steps=2, eta=1.0, strength=0.35)
    restore_to_folder(str(source), str(tmp_path / "out"), restorer, batch_size=128, progress=False)
    (folder,) = [d for d in (tmp_path / "out").iterdir() if d.is_dir()]
    written = sorted(folder.glob("*.dcm"))
    assert len(written) == 2
    sources = {pydicom.dcmread(p).SOPInstanceUID: _hu(pydicom.dcmread(p)) for p in slices}
    for path in written:
        ds = pydicom.dcmread(path)
        assert (ds.Rows, ds.Columns) == (512, 512) and ds.SeriesInstanceUID == folder.name
        src = sources[ds.SourceImageSequence[0].ReferencedSOPInstanceUID]
        hu = _hu(ds)
        air, bone = src < -900, src > 1000
        assert air.any() and bone.any()
        assert np.abs(hu[air] - src[air]).max() <= 1.0 and hu[air].mean() < -950  # air near -1000 HU, exactly kept
        assert hu[bone].min() > 1000  # bone above 1000 HU
        assert "width" in ds.DerivationDescription and "carried through" in ds.DerivationDescription


def test_sliding_restore_is_seeded_per_patch_and_covers_the_grid():
    seen = []

    def restorer(patches, seeds):
        seen.extend(seeds)
        return patches * 0 + 0.5

    out = sliding_restore(restorer, torch.zeros(1, 1, 40, 56), patch_size=16, seed=3, batch_size=4)
    assert out.shape == (1, 1, 40, 56) and torch.allclose(out, torch.full_like(out, 0.5))
    assert seen == [3 * 100_003 + k for k in range(len(seen))] and len(seen) > 6


def test_values_outside_the_window_come_from_the_source():
    source = np.array([-1000.0, 0.0, 100.0, 1500.0])
    restored = np.array([-160.0, 5.0, 90.0, 240.0])  # clipped at the window's ends by the model
    assert carry_outside_window(restored, source, (40.0, 400.0)).tolist() == [-1000.0, 5.0, 90.0, 1500.0]
