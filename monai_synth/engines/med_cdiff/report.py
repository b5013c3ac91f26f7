"""End-of-training report of a Med-cDiff model: a clean / degraded / restored grid and a metrics file.

Quick figures on a few training images with the fixed, seeded degradation of every evaluation setting;
the held-out evaluation is ``bundles/med_cdiff/evaluate.json``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch

from monai_synth.engines.checkpoint import load_state
from monai_synth.engines.image_tensors import ImageTensorSet
from monai_synth.engines.med_cdiff.restorer import Restorer
from monai_synth.engines.figures import plot_losses, save_grid, to_uint8
from monai_synth.engines.run_files import now_iso, save_json_atomic
from monai_synth.metrics.restoration import psnr
from monai_synth.metrics.ssim import ssim_pairs

logger = logging.getLogger("monai_synth")

REPORT_SEED_OFFSET = 1_000


def _quality(images: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    return {"psnr": round(float(psnr(images, clean).mean()), 3), "ssim": round(float(ssim_pairs(images, clean).mean()), 4)}


def restore_settings(restorer: Restorer, clean: torch.Tensor, seeds: list[int]) -> tuple[list, dict[str, Any]]:
    """Degrade ``clean`` with every evaluation setting, restore it; return grid rows and per-setting figures."""
    rows, figures = [], {}
    deg = restorer.degradation
    for setting in deg.settings():
        cond = deg.fixed(clean, setting, seeds)
        start = time.perf_counter()
        restored = restorer(cond, seeds).cpu()
        seconds = time.perf_counter() - start
        degraded = deg.image_part(cond)
        rows += [to_uint8(clean), to_uint8(degraded), to_uint8(restored)]
        figures[setting["name"]] = {
            "degraded": _quality(degraded, clean),
            "restored": _quality(restored, clean),
            "seconds_per_image": round(seconds / clean.shape[0], 4),
        }
    return rows, figures


def write_report(wf, data: ImageTensorSet, restorer: Restorer) -> dict[str, Any]:
    """Write ``<model>_grid.png``, ``<model>_loss_curves.png`` and ``<model>_metrics.json``; return the metrics."""
    n = min(wf.report_images, len(data))
    seeds = [wf.seed + REPORT_SEED_OFFSET + i for i in range(n)]
    rows, figures = restore_settings(restorer, data.images[:n], seeds)
    save_grid(rows, wf.out / f"{wf.model}_grid.png")
    final = load_state(wf.out / wf.model / "final.pt")
    history = final.get("history") or {}
    plot_losses({wf.model: history}, wf.out / f"{wf.model}_loss_curves.png")
    metrics: dict[str, Any] = {
        "written_at": now_iso(),
        "model": wf.model,
        "task": wf.task,
        "description": restorer.description,
        "dataset": wf.dataset_dir or "phantom",
        "num_images": len(data),
        "image_size": wf.image_size,
        "epochs": wf.epochs,
        "batch_size": wf.batch_size,
        "device": str(wf.device),
        "precision": wf.precision,
        "degradation": wf.degradation_args,
        "network_def": wf.definitions.get("network_def"),
        "training_seconds": round(float(final.get("seconds_last_run", 0.0)), 2),
        **wf.timings,
        **({"budget": budget} if (budget := wf.budget_summary()) else {}),
        "report_images": n,
        "report_note": "PSNR (dB) / SSIM against the clean image, on training images, fixed seeded degradations",
        "settings": figures,
    }
    if history.get("iterations"):
        metrics["final_loss"] = history["values"]["loss"][-1]
    if wf.model == "srgan":
        metrics["vgg_content_loss"] = "off: no VGG weights available offline (pixel MSE content loss)"
    save_json_atomic(metrics, wf.out / f"{wf.model}_metrics.json")
    logger.info("report written to %s", wf.out / f"{wf.model}_metrics.json")
    return metrics
