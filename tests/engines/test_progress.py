"""Training shows a rate and an ETA, and refreshes loss curves and sample grids every N epochs (disk + TensorBoard)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from monai.bundle import run

sys.path.insert(0, str(Path(__file__).parent))
from test_report_cap import TINY  # noqa: E402
from test_resume import _phase  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _capture():
    said: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("monai_synth")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return said, handler


def test_log_lines_have_rate_and_eta(tmp_path):
    said, handler = _capture()
    try:
        phase, _, _ = _phase(tmp_path)
        phase.run()
    finally:
        logging.getLogger("monai_synth").removeHandler(handler)
    lines = [m for m in said if m.startswith("diffusion it ")]
    assert len(lines) == 9 and all(" it/s, eta " in m for m in lines)
    assert lines[-1].endswith("eta 0:00:00)")


def test_previews_every_epoch_on_disk_and_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    said, handler = _capture()
    try:
        run(config_file=str(REPO / "bundles" / "medfusion" / "train.json"), output_dir=str(tmp_path),
            **{**TINY, "sample#per_class": 1, "diffusion_epochs": 2, "preview_every": 1})
    finally:
        logging.getLogger("monai_synth").removeHandler(handler)
    for name in ("autoencoder/autoencoder_samples.png", "autoencoder/autoencoder_loss_curves.png",
                 "diffusion/diffusion_samples.png", "diffusion/diffusion_loss_curves.png"):
        assert (tmp_path / name).is_file(), name
    assert sum("diffusion epoch" in m and "previews" in m for m in said) == 2  # after each of the 2 epochs
    events = EventAccumulator(str(tmp_path / "diffusion" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"diffusion/samples", "diffusion/loss_curves"} <= set(events.Tags()["images"])
    assert len(events.Images("diffusion/samples")) == 2
