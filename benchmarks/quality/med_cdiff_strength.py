"""Med-cDiff: where should diffusion sampling start? PSNR / SSIM / worst image per ``strength``, one run.

``strength`` 1 is the paper's sampling from pure noise (the reference); below 1, sampling starts from the
degraded image noised to ``t0 = round(strength * T) - 1`` (SDEdit; Chung et al. 2022, "come closer, diffuse
faster"). Every strength restores the same held-out images with the same seeds and the same number of
denoiser calls, so the rows differ only in where sampling starts.

    python benchmarks/quality/med_cdiff_strength.py --checkpoint_dir runs/med_cdiff/sr --num_images 16 \
        --strength 1 0.5 0.35 0.25 --out runs/med_cdiff/sr/strength.json

Prints one markdown table (mean PSNR, worst image's PSNR, mean SSIM, seconds per image) per setting.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from monai_synth.engines.med_cdiff.evaluation import load_heldout, restore_batches
from monai_synth.engines.med_cdiff.restorer import load_restorer
from monai_synth.metrics import psnr, ssim_pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint_dir", required=True, help="train.json output_dir holding diffusion/final.pt")
    ap.add_argument("--dataset_dir", default="", help="the training data source (empty: phantom)")
    ap.add_argument("--num_images", type=int, default=16)
    ap.add_argument("--strength", type=float, nargs="+", default=[1.0, 0.5, 0.35, 0.25])
    ap.add_argument("--settings", nargs="*", default=None, help="setting names (default: all), e.g. x4 x16")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--eta", type=float, default=1.0)
    ap.add_argument("--batch_size", type=int, default=16)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()

    restorers = {s: load_restorer(args.checkpoint_dir, "diffusion", args.device, "ddim", args.steps, args.eta, s)
                 for s in args.strength}
    first = next(iter(restorers.values()))
    first.precision = "bf16"
    held = load_heldout(args.dataset_dir or None, first.image_size, first.channels, first.intensity, "test",
                        args.num_images, 0)
    clean, seeds = held.images, [int(i) for i in held.index]
    settings = [s for s in first.degradation.settings() if not args.settings or s["name"] in args.settings]
    results = []
    for setting in settings:
        cond = first.degradation.fixed(clean, setting, seeds)
        degraded = first.degradation.image_part(cond).clamp(-1, 1)
        print(f"\n### {first.task} {setting['name']} ({len(clean)} images, DDIM {args.steps} steps, eta {args.eta})\n")
        print("| start | t0 | PSNR (dB) | worst PSNR | SSIM | s / image |")
        print("|---|---:|---:|---:|---:|---:|")
        p = psnr(degraded, clean)
        print(f"| degraded input | | {p.mean():.2f} | {p.min():.2f} | {ssim_pairs(degraded, clean).mean():.4f} | |")
        for strength, r in restorers.items():
            r.precision = "bf16" if r.device.type == "cpu" else "fp32"
            t = time.perf_counter()
            out = restore_batches(r, cond, seeds, args.batch_size, "", False)
            secs = (time.perf_counter() - t) / len(clean)
            p, s = psnr(out, clean), ssim_pairs(out, clean)
            name = "pure noise (paper)" if strength == 1 else f"strength {strength:g}"
            print(f"| {name} | {r.start_timestep()} | {p.mean():.2f} | {p.min():.2f} | {s.mean():.4f} | {secs:.2f} |",
                  flush=True)
            results.append({"setting": setting["name"], "strength": strength, "t0": r.start_timestep(),
                            "psnr": float(p.mean()), "psnr_min": float(p.min()), "ssim": float(s.mean()),
                            "seconds_per_image": secs})
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"checkpoint_dir": args.checkpoint_dir, "num_images": len(clean),
                                              "steps": args.steps, "eta": args.eta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
