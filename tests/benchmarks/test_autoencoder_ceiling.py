"""benchmarks/quality/autoencoder_ceiling.py on the phantom: the bundle's autoencoder phase alone, then its scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_time_to_quality import TINY, StubExtractor  # noqa: E402

AE_TINY = [o for o in TINY if o.split("=", 1)[0].startswith(("autoencoder", "discriminator", "adversarial", "phantom",
                                                             "precision", "device"))]


def test_ceiling_trains_only_the_autoencoder_and_scores_its_reconstructions(tmp_path: Path, quality_script) -> None:
    script = quality_script("autoencoder_ceiling")
    out = tmp_path / "ceiling"
    argv = ["--data", "", "--image-size", "16", "--minutes", "0.02", "--per-class", "4", "--phantom-count", "16",
            "--kid-subsets", "2", "--device", "cpu", "--out", str(out),
            *[x for o in AE_TINY for x in ("--override", o)], "--override", "autoencoder_def#latent_channels=3"]
    result = script.main(argv, extractor=StubExtractor())

    assert not (out / "diffusion").exists()  # the autoencoder phase only
    final = torch.load(out / "autoencoder" / "final.pt", map_location="cpu", weights_only=False)
    assert final["autoencoder_def"]["latent_channels"] == 3  # the override reached the bundle's network
    assert result["overrides"]["autoencoder_def#latent_channels"] == "3"
    assert result["n"] == 8 and result["budget"]["budget_minutes"] == pytest.approx(0.02)
    assert 0 < result["budget"]["spent_train_seconds"] < 60
    # a barely trained autoencoder reconstructs worse than the real images themselves score
    assert result["reconstruction"]["fid"] > result["floor"]["fid"] >= 0
    assert 0 < result["psnr_db"] < 60
    assert json.loads((out / "autoencoder_ceiling.json").read_text())["reconstruction"] == result["reconstruction"]

    # scored again without training again
    mtime = (out / "autoencoder" / "final.pt").stat().st_mtime_ns
    again = script.main(argv, extractor=StubExtractor())
    assert (out / "autoencoder" / "final.pt").stat().st_mtime_ns == mtime
    assert again["reconstruction"] == result["reconstruction"]


def test_ceiling_refuses_an_output_folder_inside_the_data(tmp_path: Path, quality_script) -> None:
    script = quality_script("autoencoder_ceiling")
    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(Exception, match="inside"):
        script.main(["--data", str(data), "--out", str(data / "out"), "--minutes", "0.01"],
                    extractor=StubExtractor())
