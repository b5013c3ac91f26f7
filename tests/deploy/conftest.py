"""Fixtures of the deploy tests: a private Orthanc, the real CT series, a PACS config."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
import json
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bundles"))

from tiny_runs import bundle_trainer  # noqa: E402
from orthanc_server import ORTHANC_AET, OUR_AET, Orthanc, orthanc_binary, start_orthanc

CT_SERIES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """A running private Orthanc (skipped only outside CI when the binary is absent)."""
    if orthanc_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("Orthanc is not installed but CI is set: run .ci/install-pacs.sh")
        pytest.skip("Orthanc is not installed (apt-get install -y orthanc)")
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def pacs(orthanc: Orthanc):  # noqa: ANN201 - PacsConfig
    """A PacsConfig for the (emptied) test Orthanc."""
    from monai_synth.deploy.pacs import PacsConfig

    orthanc.delete_all()
    return PacsConfig(port=orthanc.dicom_port, called_aet=ORTHANC_AET, calling_aet=OUR_AET, timeout=20)


@pytest.fixture(scope="session")
def ct_series() -> Path:
    """The real 18-slice CT series (read-only), or skip."""
    if not CT_SERIES.is_dir():
        pytest.skip(f"real data not found: {CT_SERIES}")
    return CT_SERIES.resolve()


TINY_DIFFUSION = {"models#diffusion#unet_def#channels": [8, 16], "models#diffusion#unet_def#attention_levels": [False, False],
                  "models#diffusion#unet_def#norm_num_groups": 8, "models#diffusion#unet_def#num_head_channels": 8}


@pytest.fixture(scope="session")
def restore_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported Med-cDiff bundle (tiny diffusion model, denoising, 32 px, trained for 1 epoch on the phantom).

    32 px, not 16: a 512 px CT slice is restored in a sixteenth of the patches of a 16 px model, so the SDK round trip
    stays well inside its time limit on a busy 2-core machine."""
    from monai_synth.engines.image_tensors import load_image_tensors
    from monai_synth.export import export_run

    root = tmp_path_factory.mktemp("med_cdiff")
    workflow = bundle_trainer(
        "med_cdiff", output_dir=str(root / "run"), task="denoise", model="diffusion", image_size=32, phantom_count=4,
        batch_size=4, epochs=1, **TINY_DIFFUSION, **{"noise_schedule#num_steps": 20, "sample#steps": 2},
        checkpoint_every=1, log_every=1, learning_rate=1e-3, report_images=2, precision="fp32", channels_last=False,
        device="cpu",
    )
    workflow.train(load_image_tensors(None, 32, phantom_count=4))
    bundle = export_run(root / "run", root / "bundle")
    # a user's edit of the bundle's sampling settings: 2 DDIM steps keep the 18-slice, 512 px round trips short
    config = bundle / "configs" / "inference.json"
    settings = json.loads(config.read_text())
    settings["steps"] = 2
    config.write_text(json.dumps(settings, indent=4))
    return bundle


@pytest.fixture(scope="session")
def synth_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported StyleGAN2-ADA bundle (tiny nets, 2 classes, 16 px, one epoch on 8 random images)."""
    import torch

    from monai_synth.augment import AdaptiveAugmentPipeline, AdaptiveAugmentProbability
    from monai_synth.engines.stylegan2 import StyleGAN2Step, StyleGAN2Trainer
    from monai_synth.export import export_run
    from monai_synth.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

    root = tmp_path_factory.mktemp("stylegan2")
    torch.manual_seed(0)
    data = [{"image": torch.rand(1, 16, 16) * 2 - 1, "label": i % 2} for i in range(8)]
    loader = torch.utils.data.DataLoader(data, batch_size=4, drop_last=True)
    tiny = {"channel_base": 128, "channel_max": 16, "mapping_layers": 1}
    g = StyleGAN2Generator(16, 1, 2, z_dim=8, w_dim=8, **tiny)
    d = StyleGAN2Discriminator(16, 1, 2, **tiny)
    augment = AdaptiveAugmentPipeline(p=0.1)
    step = StyleGAN2Step(g, d, augment, AdaptiveAugmentProbability(augment, interval_images=4, speed_kimg=0.1),
                         r1_interval=2, pl_weight=2.0, pl_interval=2, ema_kimg=0.01)
    StyleGAN2Trainer(step, loader, root / "run", epochs=1, checkpoint_every=1, log_every=1, grid_rows=2,
                     grid_columns=2).run()
    return export_run(root / "run", root / "bundle")
