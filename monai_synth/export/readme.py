"""``docs/README.md`` of an exported bundle: what the model is, its data and settings, the figures measured on the
run, how to run it, and that its outputs are synthetic and not for diagnosis."""

from __future__ import annotations

import json
from typing import Any

from monai_synth.export.inference_config import user_defaults
from monai_synth.export.metadata import INTENDED_USE, measured_figures
from monai_synth.export.run_folder import TrainedRun
from monai_synth.export.torchscript import torchscript_status

__all__ = ["readme"]

_RUN_EXAMPLE = {
    "medfusion": "--num_samples 8 --class_label 1 --seed 0 --output_dir synthetic",
    "stylegan2_ada": "--num_samples 8 --class_label 1 --seed 0 --output_dir synthetic",
    "med_cdiff": "--input path/to/degraded_images --output_dir restored",
}


def _settings_table(run: TrainedRun) -> str:
    shown = {k: v for k, v in run.settings.items() if k not in ("kind", "class_names")}
    rows = [f"| `{k}` | `{json.dumps(v)}` |" for k, v in shown.items()]
    return "\n".join(["| setting | value |", "| --- | --- |", *rows])


def _figures(run: TrainedRun) -> str:
    figures = measured_figures(run)
    if not figures:
        return "The run wrote no measured figures (no metrics file)."
    return "```json\n" + json.dumps(figures, indent=2) + "\n```"


def readme(run: TrainedRun, title: str, description: str) -> str:
    """The Markdown text."""
    scripts, why = torchscript_status(run.kind, run.model)
    classes = run.settings.get("class_names") or []
    options = " ".join(f"`{k}`" for k in user_defaults(run.kind))
    parts: list[Any] = [
        f"# {title}",
        "**Synthetic, not for diagnosis.** " + INTENDED_USE,
        "## What this is",
        description,
        "## Data",
        f"Trained on: {run.metrics.get('dataset', 'not recorded')} "
        f"({run.metrics.get('num_images', 'number of images not recorded')} images)."
        + (f" Classes: {', '.join(f'{i} = {c}' for i, c in enumerate(classes))}." if classes else ""),
        "## Settings of the trained model",
        _settings_table(run),
        "## Figures measured on the training run",
        "Copied from the run's metrics file (also in `configs/metadata.json`, `eval_metrics`); measured on the "
        "training run itself, on the device it ran on.",
        _figures(run),
        "## Use",
        "From any folder (the bundle finds its own root; `--bundle_root` overrides it):",
        "```bash\npython -m monai.bundle run --config_file BUNDLE/configs/inference.json "
        f"{_RUN_EXAMPLE[run.kind]}\n```",
        f"Settings on the command line: {options}, `device`.",
        "In Python: `monai_synth.export.load_exported(BUNDLE)`; `monai.bundle.load(name, bundle_dir=..., "
        "source=..., workflow_type='inference')` returns `network_def` with the trained weights.",
        "## Files",
        "- `configs/inference.json`: `network_def` (the trained network), the pipeline (`evaluator`), settings.\n"
        "- `configs/metadata.json`: MONAI metadata (official schema), measured figures.\n"
        "- `models/model.pt`: state dict of `network_def`"
        + (" (EMA weights, what sampling uses)" if run.kind != "med_cdiff" or run.model == "diffusion" else "")
        + ".\n" + ("- `models/autoencoder.pt`: state dict of `autoencoder_def` (the VAE).\n"
                   if run.kind == "medfusion" else "")
        + "- `LICENSE`: Apache License 2.0.",
        "## TorchScript",
        why,
    ]
    if not scripts:
        parts.append("`python -m monai.bundle ckpt_export` therefore fails on this bundle.")
    return "\n\n".join(parts) + "\n"
