"""Write N generated images of one class from a trained Medfusion run, with their manifest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from monai_synth.engines.medfusion.pipeline import MedfusionPipeline
from monai_synth.io import ManifestWriter, SyntheticStudy, save_generated
from monai_synth.io.output_guard import check_output_dir
from monai_synth.transforms import WINDOW_PRESETS

logger = logging.getLogger("monai_synth")


def window_of(intensity: dict | None) -> tuple[float, float] | None:
    """(level, width) of the CT window a model was trained with, or None."""
    if not intensity or not intensity.get("window"):
        return None

    w = intensity["window"]
    return tuple(WINDOW_PRESETS[w]) if isinstance(w, str) else tuple(w)  # type: ignore[return-value]


def sample_to_folder(
    pipeline: MedfusionPipeline,
    output_dir: str,
    num_samples: int,
    class_label: int,
    seed: int,
    format: str,  # noqa: A002 - the bundle key users set
    batch_size: int,
    modality: str,
    progress: bool = True,
) -> list[Path]:
    """Generate ``num_samples`` images of ``class_label`` into ``output_dir`` (PNG, NIfTI or DICOM).

    Image ``k`` starts from noise seeded ``seed + k``, so the same seed gives the same images whatever the
    batch size. Each file gets a manifest line (``manifest.jsonl``) marking it synthetic with the model,
    checkpoint hash, seed, class, sampler, steps and guidance scale. ``bundles/medfusion/sample.json`` holds the
    defaults and builds ``pipeline`` from a run folder or an exported bundle (``load_medfusion``).
    """
    from pydicom.uid import generate_uid

    info = pipeline.info
    if not 0 <= int(class_label) < pipeline.num_classes:
        raise ValueError(f"class_label must be in 0..{pipeline.num_classes - 1} for the model in "
                         f"{info.get('source', 'this pipeline')}, got {class_label}")
    window = window_of(info.get("intensity"))
    out = check_output_dir(output_dir)  # never among acquired images (a folder inside the run folder is fine)
    manifest = ManifestWriter(out)
    series_uid = generate_uid()
    study = SyntheticStudy(series_uid=series_uid)  # one DICOM series for all batches, in a folder of its UID
    written: list[Path] = []
    bar = tqdm(total=num_samples, desc=f"sampling class {class_label}", disable=not progress)
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        images = pipeline(torch.full((n,), int(class_label), dtype=torch.long), seed=seed, first_index=start)
        folder = f"{series_uid}/" if format == "dicom" else ""
        names = [f"{folder}synthetic_class{class_label}_seed{seed}_{start + k:05d}" for k in range(n)]
        records = [_record(info, pipeline.settings(), seed + start + k, class_label) for k in range(n)]
        written += save_generated(
            images.cpu(), out, names, fmt=format, manifest=manifest, records=records, window=window,
            modality=modality, model="medfusion", study=study,
        )
        bar.update(n)
    bar.close()
    logger.info("wrote %d synthetic images of class %d to %s", len(written), class_label, out)
    return written


def _record(info: dict, sampling: dict, seed: int, label: int) -> dict[str, Any]:
    names = info.get("class_names") or []
    return {
        "model": "medfusion",
        "checkpoint_sha256": info["checkpoint_sha256"],
        "autoencoder_sha256": info["autoencoder_sha256"],
        "seed": seed,
        "condition": {"class_label": int(label), "class_name": names[label] if label < len(names) else str(label)},
        **sampling,
    }
