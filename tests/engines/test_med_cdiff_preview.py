"""Med-cDiff previews: degraded inputs, restorations and clean images in one grid, the same cases every time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from monai_synth.engines.med_cdiff.preview import network_restore, restoration_preview
from monai_synth.transforms.degradation import make_degradation

SIZE, PAD = 16, 2


def _row(grid: torch.Tensor, r: int, c: int) -> torch.Tensor:
    """Image ``c`` of row ``r`` of a ``tile`` grid."""
    y, x = r * (SIZE + PAD), c * (SIZE + PAD)
    return grid[:, y : y + SIZE, x : x + SIZE]


@pytest.mark.parametrize("task", ["sr", "denoise", "inpaint"])
def test_grid_rows_are_degraded_restored_clean(tmp_path, task):
    torch.manual_seed(0)
    images = torch.rand(6, 1, SIZE, SIZE) * 2 - 1
    degradation = make_degradation(task, {"factors": [2.0]} if task == "sr" else {})
    net = torch.nn.Conv2d(degradation.condition_channels(1), 1, 1).train()
    preview = restoration_preview(tmp_path, "pix2pix", network_restore(net), images, degradation, count=3, seed=5)
    grid = preview.sample_grid()
    assert grid.shape == (1, 3 * (SIZE + PAD) - PAD, 3 * (SIZE + PAD) - PAD)
    condition = degradation.fixed(images[:3], degradation.settings()[0], [5, 6, 7])
    with torch.no_grad():
        expected = net(condition).clamp(-1, 1)
    for c in range(3):
        assert torch.allclose(_row(grid, 0, c), degradation.image_part(condition)[c].clamp(-1, 1))
        assert torch.allclose(_row(grid, 1, c), expected[c], atol=1e-6)
        assert torch.equal(_row(grid, 2, c), images[c])
    assert net.training  # back in training mode after the preview
    assert torch.equal(preview.sample_grid(), grid)  # the same cases every time
    written = preview({"every": 1, "iterations": [1, 2], "values": {"loss": [1.0, 0.5]}}, 2, None)
    assert tmp_path / "pix2pix_samples.png" in written
    assert np.asarray(Image.open(tmp_path / "pix2pix_samples.png")).shape[:2] == grid.shape[1:]


def test_diffusion_preview_samples_and_leaves_the_network_training(tmp_path):
    from monai.networks.nets import DiffusionModelUNet

    from monai_synth.diffusion import make_schedule
    from monai_synth.engines.med_cdiff.preview import diffusion_restore

    torch.manual_seed(0)
    images = torch.rand(2, 1, SIZE, SIZE) * 2 - 1
    unet = DiffusionModelUNet(spatial_dims=2, in_channels=2, out_channels=1, channels=[8, 16],
                              attention_levels=[False, False], num_res_blocks=1, norm_num_groups=8).train()  # x_t + condition
    schedule = make_schedule(num_steps=20, kind="linear", beta_start=1e-4, beta_end=0.02)
    settings = {"model": "diffusion", "task": "denoise", "degradation": {}, "image_size": SIZE, "channels": 1}
    restore = diffusion_restore(unet, settings, schedule, steps=2)
    preview = restoration_preview(tmp_path, "diffusion", restore, images, make_degradation("denoise"), count=2)
    grid = preview.sample_grid()
    assert grid.shape == (1, 3 * (SIZE + PAD) - PAD, 2 * (SIZE + PAD) - PAD) and grid.abs().max() <= 1
    assert unet.training and all(p.requires_grad for p in unet.parameters())
    assert torch.equal(preview.sample_grid(), grid)  # seeded: the same samples from the same weights
