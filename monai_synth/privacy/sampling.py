"""Synthetic images for an audit of a model: sampled into ``<output>/synthetic/``, resumable by part.

The images are spread evenly over the model's classes (Medfusion: one folder per class; StyleGAN2-ADA: one
folder, classes in turn). Each part is written by the model's own sample writer (per-image seeds, a manifest
line per file) and then marked complete by a ``.complete`` file that holds the part's settings. A rerun skips
the complete parts, redoes an interrupted one from the start, and starts afresh when the settings (the count,
the sampler, the seed, the checkpoint) differ from those recorded in ``synthetic/plan.json``.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

# called through their modules, so that a patched sample_to_folder / load_medfusion takes effect
import monai_synth.engines.medfusion.sample as medfusion_sample
import monai_synth.engines.medfusion.workflow as medfusion_workflow
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.engines.stylegan2.sample_writer import StyleGAN2SampleWriter
from monai_synth.io import sha256_file
from monai_synth.io.atomic import atomic_open
from monai_synth.io.bundle_configs import config_defaults
from monai_synth.networks.stylegan2_checkpoint import load_stylegan2_generator
from monai_synth.privacy.sources import SourceInfo

__all__ = ["class_counts", "default_sampling", "sample_synthetic"]

logger = logging.getLogger(__name__)



def default_sampling(kind: str) -> dict[str, Any]:
    """Sampler settings of an audit's synthetic images for a ``kind`` model, read from ``bundles/<kind>/audit.json``
    (``sample``), the one place they live."""
    return dict(config_defaults(kind, "audit.json", ["sample"])["sample"])


def class_counts(total: int, num_classes: int) -> list[int]:
    """``total`` images spread over the classes as evenly as possible (the first classes get the remainder)."""
    n = max(1, int(num_classes))
    return [total // n + (1 if c < total % n else 0) for c in range(n)]


def _write_json(path: Path, data: dict) -> None:
    with atomic_open(path) as handle:
        handle.write((json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _start_plan(folder: Path, plan: dict) -> None:
    """Keep the folder when it was made for the same plan, else empty it and record the plan."""
    if _read_json(folder / "plan.json") == plan:
        return
    if folder.exists():
        logger.info("%s: sampling settings changed; sampling afresh", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _write_json(folder / "plan.json", plan)


def _part(folder: Path, settings: dict, write) -> None:
    """Write one part with ``write(folder)`` unless its completion record matches ``settings``."""
    if _read_json(folder / ".complete") == settings:
        return
    if folder.exists():
        shutil.rmtree(folder)  # an interrupted part: its files may be incomplete
    write(folder)
    _write_json(folder / ".complete", settings)


def sample_synthetic(source: SourceInfo, folder: Path, num_samples: int, settings: dict[str, Any], seed: int,
                     device: str, model: dict | None = None, progress: bool = True) -> Path:
    """Sample ``num_samples`` images of the model ``source`` into ``folder`` (resumable); returns ``folder``.

    Args:
        source: a Medfusion or StyleGAN2-ADA run folder or bundle
            (:func:`~monai_synth.privacy.sources.describe_source`).
        folder: where the images go (``<output>/synthetic``).
        num_samples: images in all.
        settings: sampler settings overriding :func:`default_sampling` of the source's kind.
        seed: seed of the first image.
        device: torch device.
        model: an already loaded Medfusion model (``load_medfusion``), to avoid loading it twice.
    """
    s = {**default_sampling(source.kind), **(settings or {})}
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    if source.kind == "medfusion":
        _sample_medfusion(source, folder, num_samples, s, seed, device, model, progress)
    else:
        _sample_stylegan2(source, folder, num_samples, s, seed, device)
    return folder


def _sample_medfusion(source: SourceInfo, folder: Path, num_samples: int, s: dict, seed: int, device: str,
                      model: dict | None, progress: bool) -> None:
    model = model if model is not None else medfusion_workflow.load_medfusion(source.path, device)
    pipeline = MedfusionPipeline(model, sampler=s.get("sampler"), steps=s.get("steps"), eta=s.get("eta"),
                                 guidance_scale=s.get("guidance_scale"), device=device)  # None: the run's own
    plan = {"model": "medfusion", "checkpoint_sha256": model["checkpoint_sha256"], "num_samples": num_samples,
            "seed": seed, **pipeline.settings()}
    _start_plan(folder, plan)
    for label, count in enumerate(class_counts(num_samples, int(model["num_classes"]))):
        if count == 0:
            continue
        part_seed = seed + 100_000 * label  # classes do not share starting noise

        def write(part: Path, label=label, count=count, part_seed=part_seed) -> None:
            medfusion_sample.sample_to_folder(pipeline, str(part), num_samples=count, class_label=label,
                                              seed=part_seed, format="png", batch_size=int(s["batch_size"]),
                                              modality="OT", progress=progress)

        _part(folder / f"class_{label:03d}", {**plan, "class_label": label, "count": count}, write)


def _sample_stylegan2(source: SourceInfo, folder: Path, num_samples: int, s: dict, seed: int, device: str) -> None:
    checkpoints = source.path if source.bundle else source.path / "checkpoints"
    _, weights = load_stylegan2_generator(checkpoints, "cpu")
    plan = {"model": "stylegan2_ada", "checkpoint_sha256": sha256_file(weights), "num_samples": num_samples,
            "seed": seed, "truncation_psi": float(s["truncation_psi"])}
    _start_plan(folder, plan)

    def write(part: Path) -> None:
        StyleGAN2SampleWriter(checkpoints, part, num_samples=num_samples, class_label=None,
                              truncation_psi=float(s["truncation_psi"]), seed=seed,
                              batch_size=int(s["batch_size"]), device=device).run()

    _part(folder / "all", plan, write)
