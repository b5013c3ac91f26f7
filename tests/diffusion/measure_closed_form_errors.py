"""Measure the samplers' errors on Gaussian data with the exact denoiser (the tables in docs/samplers.md).

Run: ``python tests/diffusion/measure_closed_form_errors.py`` (a few seconds, prints Markdown).
The exact denoiser of Gaussian data ``N(0.5, s^2)`` is linear, so every sampler is affine in ``x_T`` and in
its per-step noises, and the output mean and std are computed exactly (no Monte Carlo), see
``diffusion_reference.exact_output_moments``. Errors are relative to the data: ``std / s - 1``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from diffusion_reference import exact_output_moments, gaussian_denoiser  # noqa: E402

from monai_synth.diffusion import make_schedule, sample_ddim, sample_ddpm, sample_dpmpp_2m  # noqa: E402

MU = 0.5
STDS = (1.0, 0.3, 0.05)
SCHEDULES = {
    "linear 1e-4..0.02": ("linear", 1e-4, 0.02),
    "Medfusion scaled_linear 0.002..0.02": ("scaled_linear", 0.002, 0.02),
    "cosine": ("cosine", 1e-4, 0.02),
}
ROWS = [
    ("DDPM, sigma^2 = beta", sample_ddpm, None, {}),
    ("DDPM, posterior variance", sample_ddpm, None, {"variance": "posterior"}),
    ("DDPM, sigma^2 = beta", sample_ddpm, 250, {}),
    ("DDIM eta=1", sample_ddim, 150, {"eta": 1.0}),
    ("DDIM eta=0", sample_ddim, 150, {}),
    ("DDIM eta=0", sample_ddim, 150, {"spacing": "leading"}),
    ("DDIM eta=0", sample_ddim, 150, {"spacing": "linspace"}),
    ("DDIM eta=0", sample_ddim, 150, {"spacing": "logsnr"}),
    ("DDIM eta=0", sample_ddim, 50, {}),
    ("DPM-Solver++(2M)", sample_dpmpp_2m, 10, {}),
    ("DPM-Solver++(2M)", sample_dpmpp_2m, 20, {}),
    ("DPM-Solver++(2M)", sample_dpmpp_2m, 50, {}),
    ("DPM-Solver++(2M)", sample_dpmpp_2m, 20, {"spacing": "trailing"}),
    ("DPM-Solver++(2M)", sample_dpmpp_2m, 20, {"spacing": "linspace"}),
]
DEFAULT_SPACING = {sample_ddpm: "trailing", sample_ddim: "trailing", sample_dpmpp_2m: "logsnr"}


def table(title: str, kind: str, beta_start: float, beta_end: float) -> None:
    """Print one Markdown table: a row per sampler setting, std error per data std, mean error at s = 0.3."""
    schedule = make_schedule(1000, kind, beta_start, beta_end)
    print(f"\n{title} (T = 1000):\n")
    print("| sampler | steps | spacing | " + " | ".join(f"std error, s={s}" for s in STDS) + " | mean error, s=0.3 |")
    print("|---|---|---|" + "---|" * (len(STDS) + 1))
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, sampler, steps, kw in ROWS:
            cells, mean_error = [], 0.0
            for s in STDS:
                denoiser = gaussian_denoiser(schedule, MU, s)
                mean, sd = exact_output_moments(monkeypatch, sampler, denoiser, schedule, steps, **kw)
                cells.append(f"{100 * (sd / s - 1):+.2f} %")
                mean_error = mean - MU if s == 0.3 else mean_error
            spacing = kw.get("spacing", DEFAULT_SPACING[sampler])
            print(f"| {name} | {steps or 1000} | {spacing} | " + " | ".join(cells) + f" | {mean_error:+.4f} |")


def main() -> None:
    torch.set_num_threads(1)  # small tensors: OpenMP threads only add contention
    with torch.no_grad():
        for title, (kind, beta_start, beta_end) in SCHEDULES.items():
            table(title, kind, beta_start, beta_end)


if __name__ == "__main__":
    main()
