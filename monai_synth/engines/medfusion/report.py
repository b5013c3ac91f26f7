"""End-of-training report of a Medfusion run: per-class sample grid, loss curves, metrics.json."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monai_synth.data import measure_ctr
from monai_synth.engines.checkpoint import load_state
from monai_synth.engines.components import build
from monai_synth.engines.image_tensors import ImageTensorSet
from monai_synth.engines.figures import plot_losses, save_grid, to_uint8
from monai_synth.engines.precision import autocast_for
from monai_synth.engines.report_cap import report_classes
from monai_synth.engines.run_files import now_iso, save_json_atomic

logger = logging.getLogger("monai_synth")


@torch.no_grad()
def reconstruction_quality(vae: nn.Module, images: torch.Tensor, device: torch.device, precision: str) -> dict:
    """PSNR (dB, data range 2) and mean L1 of the autoencoder's reconstructions (posterior mean)."""
    x = images[:256].to(device)
    with autocast_for(device, precision):
        mu, _ = vae.encode(x)
        rec = vae.decode(mu).float().clamp(-1, 1)
    mse = (rec - x).pow(2).flatten(1).mean(1)
    psnr = (10 * torch.log10(4.0 / mse.clamp_min(1e-12))).mean().item()
    return {"autoencoder_psnr_db": round(psnr, 3), "autoencoder_l1": round((rec - x).abs().mean().item(), 5)}


def sample_per_class(wf, vae: nn.Module, unet: nn.Module, extra: dict, per_class: int,
                     classes: list[int] | None = None, **overrides) -> list[torch.Tensor]:
    """``per_class`` samples of each of ``classes`` (default: every class) with the workflow's sampling settings."""
    pipeline = wf.pipeline(vae, unet, wf_schedule(extra, wf.device), extra, **overrides)
    return [pipeline(torch.full((per_class,), c, dtype=torch.long), seed=wf.seed + 100_000 * (c + 1))
            for c in (range(extra["num_classes"]) if classes is None else classes)]


def wf_schedule(extra: dict, device: torch.device):
    """The run's noise schedule, rebuilt from its stored definition."""
    return build(extra["noise_schedule_def"]).to(device)


def phantom_ctr_check(samples: list[torch.Tensor]) -> dict:
    """Mean measured cardiothoracic ratio per generated class (phantom data: label 1 = CTR > 0.5)."""
    out: dict[str, Any] = {}
    for c, imgs in enumerate(samples):
        ctr = np.array([measure_ctr(im.cpu().numpy()) for im in imgs], dtype=float)
        ok = ctr[~np.isnan(ctr)]
        out[f"class_{c}"] = {
            "n": int(len(ctr)),
            "measured": int(len(ok)),
            "ctr_mean": float(ok.mean()) if len(ok) else math.nan,
            "ctr_std": float(ok.std()) if len(ok) else math.nan,
            "fraction_ctr_above_0.5": float((ok > 0.5).mean()) if len(ok) else math.nan,
        }
    return out


def _dataset_provenance(record: dict | None) -> dict[str, Any]:
    """The recorded fingerprint of the data the weights were trained on (``run_record.json``)."""
    if not record:
        return {}
    d = record["dataset"]
    return {"dataset_fingerprint": {k: d[k] for k in ("digest", "num_files", "total_bytes", "content_hashed")}}


def write_report(wf, data: ImageTensorSet, vae: nn.Module, unet: nn.Module, extra: dict) -> dict[str, Any]:
    """Write ``samples_grid_synthetic.png``, ``loss_curves.png`` and ``metrics.json``; return the metrics."""

    out = wf.out

    per_class = int(wf.sample_args["per_class"])
    classes, capped = report_classes(extra["num_classes"], per_class)
    samples = sample_per_class(wf, vae, unet, extra, per_class, classes)
    real_rows = [data.images[data.labels == c][:per_class] for c in classes]
    save_grid([to_uint8(s) for s in samples], out / "samples_grid_synthetic.png")
    save_grid([to_uint8(r) for r in real_rows if len(r)], out / "real_grid.png")
    finals = {name: load_state(out / name / "final.pt") for name in ("autoencoder", "diffusion")}
    histories = {name: state.get("history") for name, state in finals.items()}
    plot_losses(histories, out / "loss_curves.png")
    metrics: dict[str, Any] = {
        "written_at": now_iso(),
        "dataset": wf.dataset_dir or "phantom",
        **_dataset_provenance(getattr(wf, "record", None)),
        "num_images": len(data),
        "num_classes": extra["num_classes"],
        "image_size": wf.image_size,
        "latent_shape": extra["latent_shape"],
        "latent_scale": extra["latent_scale"],
        "sampler": dict(wf.sample_args),
        **({"report_capped": capped} if capped else {}),
        "device": str(wf.device),
        "precision": wf.precision,
        **wf.timings,
        **({"budget": budget} if (budget := wf.budget_summary()) else {}),
        "autoencoder_precision": wf.ae_precision,
        **reconstruction_quality(vae, data.images, wf.device, wf.ae_precision),
    }
    for name, state in finals.items():
        if "seconds_last_run" in state and f"{name}_seconds" not in metrics:
            metrics[f"{name}_seconds"] = round(float(state["seconds_last_run"]), 1)
    for name, hist in histories.items():
        if hist and hist["iterations"]:
            metrics[f"{name}_final_loss"] = hist["values"]["loss"][-1]
    if finals["diffusion"].get("metrics"):
        metrics["fidelity_at_end_of_training"] = {**finals["diffusion"]["metrics"], **(wf.evaluation or {})}
    if wf.dataset_dir is None:
        metrics["phantom_ctr_of_samples"] = phantom_ctr_check(samples)
    save_json_atomic(metrics, out / "metrics.json")
    logger.info("report written to %s", out)
    return metrics
