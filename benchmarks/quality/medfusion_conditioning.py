"""Does class conditioning work? Score a trained Medfusion run by a downstream classifier or by CTR.

- Classifier check (real data with labels): the conditional fidelity score of the library
  (``monai_synth.metrics.utility.classifier_conditional_fidelity``): a classifier trained on the real training
  images labels ``--per-class`` generated images per class; reports the share assigned to the conditioned class,
  per class with a bootstrap interval, beside the classifier's own recall on the real hold-out split.
  ``monai-synth utility`` computes the same score from its TRTR classifiers (docs/utility.md); this script
  keeps the sampler options (``--clip-latents``...) for sampler studies.
- CTR check (phantom runs, ``--ctr``): measured cardiothoracic ratio of generated images per class.

Usage:
  python benchmarks/quality/medfusion_conditioning.py --run runs/mednist --data ../shared/data/mednist_64_500/split.csv \
      --holdout-split test --per-class 100 --json runs/mednist/conditioning.json
  python benchmarks/quality/medfusion_conditioning.py --run runs/medfusion --ctr --per-class 200
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from monai_synth.engines.image_tensors import load_image_tensors
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.engines.medfusion import load_medfusion


def generate(model: dict, label: int, n: int, a) -> torch.Tensor:
    pipeline = MedfusionPipeline(model, sampler=a.sampler, steps=a.steps, eta=a.eta, guidance_scale=a.guidance_scale,
                                 device=a.device, precision=a.precision, channels_last=True,
                                 clip_latents=a.clip_latents)
    out = []
    for start in range(0, n, a.batch):
        k = min(a.batch, n - start)
        out.append(pipeline(torch.full((k,), label), seed=a.seed + 1_000_000 * label, first_index=start))
    return torch.cat(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="training output folder (checkpoint_dir)")
    p.add_argument("--data", default="", help="the training data source (empty: phantom)")
    p.add_argument("--holdout-split", default="test")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--sampler", default="ddim")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--guidance-scale", type=float, default=2.0)
    p.add_argument("--eta", type=float, default=0.0, help="DDIM stochasticity (0 deterministic, 1 as the reference code)")
    p.add_argument("--clip-latents", type=float, default=None, help="clamp predicted clean latents to +-this")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="bf16")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--classifier-epochs", type=int, default=8, help="classifier epochs over the real training images")
    p.add_argument("--classifier-steps", type=int, default=None, help="classifier steps of 64 images (overrides epochs)")
    p.add_argument("--ctr", action="store_true", help="phantom run: report measured CTR per class")
    p.add_argument("--save-grid", type=Path)
    p.add_argument("--json", type=Path)
    a = p.parse_args()

    torch.set_grad_enabled(False)
    model = load_medfusion(a.run, a.device)
    n_cls = int(model["num_classes"])
    t0 = time.perf_counter()
    fake = {c: generate(model, c, a.per_class, a).cpu() for c in range(n_cls)}
    result: dict = {"run": str(a.run), "sampler": a.sampler, "steps": a.steps, "guidance_scale": a.guidance_scale,
                    "eta": a.eta, "clip_latents": a.clip_latents,
                    "per_class": a.per_class, "sampling_seconds": round(time.perf_counter() - t0, 1)}
    if a.save_grid:
        from monai_synth.engines.medfusion.report import save_grid, to_uint8

        save_grid([to_uint8(fake[c][:10]) for c in range(n_cls)], a.save_grid)
    if a.ctr:
        from monai_synth.data import measure_ctr

        for c in range(n_cls):
            ctr = np.array([measure_ctr(im.numpy()) for im in fake[c]], dtype=float)
            ok = ctr[~np.isnan(ctr)]
            result[f"class_{c}"] = {"measured": int(len(ok)), "ctr_mean": float(ok.mean()), "ctr_std": float(ok.std()),
                                    "fraction_above_0.5": float((ok > 0.5).mean())}
    else:
        from monai_synth.metrics.utility import classifier_conditional_fidelity

        size, ch = model["image_size"], model["channels"]
        train = load_image_tensors(a.data, size, ch, split="train")
        hold = load_image_tensors(a.data, size, ch, split=a.holdout_split, num_classes=train.num_classes)
        imgs = torch.cat([fake[c] for c in range(n_cls)])
        target = torch.cat([torch.full((len(fake[c]),), c) for c in range(n_cls)])
        with torch.enable_grad():
            t1 = time.perf_counter()
            result["conditional_fidelity"] = classifier_conditional_fidelity(
                train.images, train.labels, imgs, target, train.class_names, hold.images, hold.labels,
                steps=a.classifier_steps or a.classifier_epochs * max(1, len(train) // 64), device=a.device,
            )
        result["classifier_seconds"] = round(time.perf_counter() - t1, 1)
    print(json.dumps(result, indent=2))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
