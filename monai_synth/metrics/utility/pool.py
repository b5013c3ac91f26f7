"""The pool of synthetic images of a utility study, filled by a class-conditional generator.

The pool is a folder of 8-bit PNG files with a ``manifest.jsonl`` line per image (model, checkpoint hash, seed,
class, sampler), the same as ``sample.json`` writes, so it can be inspected, scored with ``monai-synth evaluate``
or given to ``monai-synth utility`` again. Image ``i`` of class ``c`` uses seed ``seed + 1_000_000 c + i``, so a
pool grows without changing its first images, and an interrupted fill continues with the images its manifest
does not list yet. ``pool.json`` records the model and sampling settings; a pool made with others is emptied
and filled again.

The generator is any object with the attributes of :class:`GenerativeModel`; ``monai_synth.utility.generators``
opens Medfusion and StyleGAN2-ADA run folders and exported bundles as one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth.data.errors import DataError
from monai_synth.io import ManifestWriter, atomic_open, read_manifest, save_generated
from monai_synth.metrics.utility.plan import synthetic_wanted

__all__ = ["CLASS_SEED_STRIDE", "GenerativeModel", "fill_pool", "pool_wanted"]

logger = logging.getLogger(__name__)

CLASS_SEED_STRIDE = 1_000_000


@dataclass
class GenerativeModel:
    """A loaded class-conditional generator.

    Attributes:
        kind: ``"medfusion"`` or ``"stylegan2_ada"``.
        path: the run folder or bundle.
        image_size / channels / num_classes: what it generates.
        class_names: names of its classes (may be empty).
        intensity: the training normalisation (``{"mode", "window"}``) when recorded, else None.
        checkpoint_sha256: hash of the weights.
        sampling: the sampling settings used.
        generate: ``generate(label, first_seed, count)`` -> ``(count, C, H, W)`` in [-1, 1] on the CPU; image
            ``k`` from seed ``first_seed + k``.
    """

    kind: str
    path: Path
    image_size: int
    channels: int
    num_classes: int
    class_names: list[str]
    intensity: dict | None
    checkpoint_sha256: str
    sampling: dict[str, Any]
    generate: Callable[[int, int, int], torch.Tensor] = field(repr=False)


def _pool_settings(model: GenerativeModel, seed: int) -> dict[str, Any]:
    return {"model": model.kind, "checkpoint_sha256": model.checkpoint_sha256, "sampling": model.sampling,
            "seed": int(seed)}


def _reset_if_stale(folder: Path, settings: dict[str, Any]) -> None:
    """Empty ``folder`` (our pool) when its ``pool.json`` records other settings; then record these."""
    record = folder / "pool.json"
    if record.is_file():
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
        if previous == settings:
            return
        logger.warning("%s: made with other model or sampling settings; generating it again", folder)
        for p in list(folder.glob("*.png")) + [folder / "manifest.jsonl", record]:
            p.unlink(missing_ok=True)
    elif any(folder.glob("*.png")):
        raise DataError("holds images without a pool.json record; remove them or choose another output folder",
                        folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(record) as handle:
        handle.write(json.dumps(settings, indent=1).encode("utf-8"))


def fill_pool(
    model: GenerativeModel,
    folder: str | os.PathLike,
    wanted: Sequence[int],
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = True,
) -> Path:
    """Generate the missing images of a pool: ``wanted[c]`` PNG images of each class ``c`` in ``folder``.

    Returns:
        The folder.
    """
    from tqdm import tqdm

    out = Path(folder)
    settings = _pool_settings(model, seed)
    _reset_if_stale(out, settings)
    done = {str(r.get("file")) for r in read_manifest(out)}
    todo = [(c, i) for c, n in enumerate(wanted) for i in range(int(n)) if f"class{c}_{i:06d}.png" not in done]
    if not todo:
        return out
    names = model.class_names
    bar = tqdm(total=len(todo), desc="generating synthetic images", disable=not progress)
    with ManifestWriter(out) as manifest:
        for c in sorted({c for c, _ in todo}):
            indices = [i for k, i in todo if k == c]
            for start in range(0, len(indices), batch_size):
                chunk = _runs(indices[start : start + batch_size])
                for first, count in chunk:
                    base = seed + CLASS_SEED_STRIDE * c
                    images = model.generate(c, base + first, count)
                    records = [{
                        "model": model.kind, "checkpoint_sha256": model.checkpoint_sha256, "seed": base + first + k,
                        "condition": {"class_label": c, "class_name": names[c] if c < len(names) else str(c)},
                        "sampler": model.sampling.get("sampler", "stylegan2"), "steps": model.sampling.get("steps"),
                        "guidance_scale": model.sampling.get("guidance_scale"),
                        "truncation_psi": model.sampling.get("truncation_psi"),
                    } for k in range(count)]  # fmt: skip
                    save_generated(images, out, [f"class{c}_{first + k:06d}" for k in range(count)], fmt="png",
                                   manifest=manifest, records=records, model=model.kind)  # fmt: skip
                    bar.update(count)
    bar.close()
    logger.info("synthetic pool %s: %s images per class", out, [int(n) for n in wanted])
    return out


def _runs(indices: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indices as ``(first, count)``."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][0] + runs[-1][1] == i:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def pool_wanted(train_counts: np.ndarray, multiples: Sequence[float]) -> np.ndarray:
    """Pool size per class: the largest ``multiple x n_c`` any setting asks for (rounded up)."""
    top = max([float(k) for k in multiples] + [0.0])
    return synthetic_wanted(train_counts, top)
