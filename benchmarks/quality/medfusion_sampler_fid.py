"""Sampler quality against speed for a trained Medfusion run: FID, KID, precision, recall and images/s.

Each sampler setting generates the same number of images per class from the same seeds; every set is scored
against the same real images (Inception pool3 features, :mod:`monai_synth.metrics`). On the phantom, the
share of samples whose cardiothoracic ratio can be measured (lungs and heart found) is reported too.

Usage:
  python benchmarks/quality/medfusion_sampler_fid.py --run runs/medfusion --per-class 100 \
      --setting ddim:150:0 --setting dpmpp_2m:20:0 --setting ddim:50:1 --json runs/medfusion/sampler_fid.json

A setting is ``sampler:steps:eta`` (eta is used by DDIM only).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from monai_synth.data.ctr import measurable_ctr_share
from monai_synth.engines.image_tensors import load_image_tensors
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.engines.medfusion import load_medfusion
from monai_synth.metrics import InceptionFeatureExtractor
from monai_synth.metrics.fidelity import fidelity_metrics


def parse_setting(text: str) -> tuple[str, int, float]:
    """``"ddim:150:0"`` -> ("ddim", 150, 0.0)."""
    sampler, steps, eta = (text.split(":") + ["0"])[:3]
    return sampler, int(steps), float(eta)


def generate_set(model: dict, per_class: int, setting: tuple[str, int, float], a) -> tuple[torch.Tensor, float]:
    """``per_class`` images of every class (same seeds for every setting) and the sampling seconds."""
    sampler, steps, eta = setting
    pipeline = MedfusionPipeline(model, sampler=sampler, steps=steps, eta=eta, guidance_scale=a.guidance_scale,
                                 precision=a.precision, channels_last=True)
    start = time.perf_counter()
    images, _ = pipeline.per_class(per_class, a.seed, a.batch)
    return images, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="training output folder (checkpoint_dir)")
    p.add_argument("--real", default="", help="real images (data-layer source; empty: the phantom)")
    p.add_argument("--real-split", default="train")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--setting", action="append", default=[], help="sampler:steps:eta (repeat)")
    p.add_argument("--guidance-scale", type=float, default=2.0)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--ctr", action="store_true", help="also report the share of samples with a measurable CTR")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    settings = [parse_setting(s) for s in (a.setting or ["ddim:150:0", "dpmpp_2m:20:0", "ddim:50:1"])]

    torch.set_grad_enabled(False)
    model = load_medfusion(a.run)
    real = load_image_tensors(a.real or None, model["image_size"], model["channels"], split=a.real_split)
    extractor = InceptionFeatureExtractor(progress=False)
    real_feats = extractor(real.images)
    rows = []
    for setting in settings:
        images, seconds = generate_set(model, a.per_class, setting, a)
        row = {"sampler": setting[0], "steps": setting[1], "eta": setting[2], "n": len(images),
               "sampling_seconds": round(seconds, 1), "images_per_second": round(len(images) / seconds, 2)}
        row.update({k: float(v) for k, v in fidelity_metrics(real_feats, extractor(images)).items()})
        if a.ctr:
            row["ctr_measurable"] = measurable_ctr_share(images)
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"run": str(a.run), "real": a.real or "phantom", "n_real": len(real), "guidance_scale": a.guidance_scale,
              "per_class": a.per_class, "rows": rows}
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
