"""How far each deterministic sampler setting lands from the probability-flow ODE's solution, for a trained model.

A deterministic sampler (DDIM with eta 0, DPM-Solver++(2M)) solves the model's probability-flow ODE from the same
starting noise; with enough steps every one of them reaches the same images. This script generates the same
seeds with a reference setting (default: DDIM, 1000 trailing steps, which visits every training timestep down to
t = 0) and with each ``--setting``, and reports the RMS difference of the decoded images (in [-1, 1]) per image:
the sampler's error against the ODE's solution, in image units. It separates "the sampler has not converged"
from "the converged sampler scores differently" when a quality metric changes with the sampler.

Usage::

  python benchmarks/quality/medfusion_ode_convergence.py --run runs/medfusion --guidance-scale 3 \\
      --setting ddim:20:trailing --setting ddim:150:trailing --setting ddim:150:logsnr \\
      --setting dpmpp_2m:20:logsnr --setting dpmpp_2m:150:logsnr --json runs/medfusion/ode_convergence.json

A setting is ``sampler:steps:spacing`` (spacing: leading, trailing, linspace or logsnr).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from monai_synth.diffusion import make_timesteps
from monai_synth.diffusion.schedules import NoiseSchedule
from monai_synth.engines.medfusion import load_medfusion
from monai_synth.engines.medfusion.sampling import generate_images


def parse_setting(text: str) -> tuple[str, int, str]:
    """``ddim:150:trailing`` -> ("ddim", 150, "trailing")."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected SAMPLER:STEPS:SPACING, e.g. ddim:150:trailing")
    return parts[0], int(parts[1]), parts[2]


def generate(model: dict, setting: tuple[str, int, str], labels: torch.Tensor, a) -> tuple[torch.Tensor, float]:
    """Images of ``labels`` from the study's seeds with one deterministic setting, and the seconds it took."""
    sampler, steps, spacing = setting
    timesteps = make_timesteps(model["schedule"].alphas_cumprod, steps, spacing)
    start = time.perf_counter()
    with torch.no_grad():
        images = generate_images(model["vae"], model["unet"], model["schedule"], labels, tuple(model["latent_shape"]),
                                 model["latent_scale"], model["null_label"], sampler=sampler, steps=steps, eta=0.0,
                                 guidance_scale=a.guidance_scale, seed=a.seed, prediction=model["prediction"],
                                 latent_shift=model.get("latent_shift", 0.0), timesteps=timesteps)  # fmt: skip
    return images, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="training output folder or exported bundle")
    p.add_argument("--reference", type=parse_setting, default=("ddim", 1000, "trailing"))
    p.add_argument("--setting", type=parse_setting, action="append", default=[], help="SAMPLER:STEPS:SPACING (repeat)")
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--guidance-scale", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    model = load_medfusion(a.run, "cpu")
    if not isinstance(model["schedule"], NoiseSchedule):
        raise SystemExit(f"{a.run}: a {model['schedule'].kind} model; this script compares DDPM-schedule samplers")
    labels = torch.arange(int(model["null_label"])).repeat_interleave(a.per_class)
    reference, seconds = generate(model, a.reference, labels, a)
    rows = [{"setting": ":".join(map(str, a.reference)), "seconds": round(seconds, 2), "reference": True}]
    print(f"reference {rows[0]['setting']}: {len(labels)} images, {seconds:.0f} s, guidance {a.guidance_scale:g}")
    for setting in a.setting:
        images, seconds = generate(model, setting, labels, a)
        rms = (images - reference).pow(2).mean(dim=(1, 2, 3)).sqrt()
        row = {"setting": ":".join(map(str, setting)), "seconds": round(seconds, 2),
               "rms_mean": float(rms.mean()), "rms_max": float(rms.max())}
        rows.append(row)
        print(f"{row['setting']:22s} RMS to the reference: mean {row['rms_mean']:.4f}, max {row['rms_max']:.4f} "
              f"({seconds:.0f} s)")
    result = {"run": str(a.run), "guidance_scale": a.guidance_scale, "seed": a.seed, "images": len(labels),
              "rows": rows}
    if a.json is not None:
        a.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
