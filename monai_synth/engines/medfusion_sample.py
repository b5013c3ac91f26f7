"""Write N generated images of one class from a trained Medfusion run, with their manifest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from monai_synth.engines.latent_sampling import generate_images
from monai_synth.engines.medfusion import load_medfusion

logger = logging.getLogger("monai_synth")


def window_of(intensity: dict | None) -> tuple[float, float] | None:
    """(level, width) of the CT window a model was trained with, or None."""
    if not intensity or not intensity.get("window"):
        return None
    from monai_synth.transforms import WINDOW_PRESETS

    w = intensity["window"]
    return tuple(WINDOW_PRESETS[w]) if isinstance(w, str) else tuple(w)  # type: ignore[return-value]


def sample_to_folder(
    checkpoint_dir: str,
    output_dir: str,
    num_samples: int = 16,
    class_label: int = 0,
    sampler: str = "ddim",
    steps: int = 150,
    eta: float = 0.0,
    guidance_scale: float = 1.0,
    seed: int = 0,
    format: str = "png",  # noqa: A002 - the bundle key users set
    batch_size: int = 16,
    device: str = "cpu",
    precision: str = "fp32",
    modality: str = "OT",
    progress: bool = True,
    model: dict[str, Any] | None = None,
) -> list[Path]:
    """Generate ``num_samples`` images of ``class_label`` into ``output_dir`` (PNG, NIfTI or DICOM).

    Image ``k`` starts from noise seeded ``seed + k``, so the same seed gives the same images whatever the
    batch size. Each file gets a manifest line (``manifest.jsonl``) marking it synthetic with the model,
    checkpoint hash, seed, class, sampler, steps and guidance scale.

    ``checkpoint_dir`` is a training run folder or an exported bundle folder (``monai-synth export``); ``model``
    is an already loaded model (what :func:`~monai_synth.engines.medfusion.load_medfusion` returns), used
    instead of loading ``checkpoint_dir``.
    """
    from monai_synth.io import ManifestWriter, SyntheticStudy, save_generated

    dev = torch.device(device if (device != "cuda" or torch.cuda.is_available()) else "cpu")
    model = model if model is not None else load_medfusion(checkpoint_dir, dev)
    n_cls = int(model["num_classes"])
    if not 0 <= int(class_label) < n_cls:
        raise ValueError(f"class_label must be in 0..{n_cls - 1} for the model in {checkpoint_dir}, got {class_label}")
    window = window_of(model.get("intensity"))
    out = Path(output_dir)
    manifest = ManifestWriter(out)
    study = SyntheticStudy()  # one DICOM study for all batches
    written: list[Path] = []
    bar = tqdm(total=num_samples, desc=f"sampling class {class_label}", disable=not progress)
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        images = generate_images(
            model["vae"], model["unet"], model["schedule"], torch.full((n,), int(class_label), dtype=torch.long),
            tuple(model["latent_shape"]), model["latent_scale"], model["null_label"], sampler=sampler, steps=steps,
            eta=eta, guidance_scale=guidance_scale, seed=seed, first_index=start, prediction=model["prediction"],
            device=dev, precision=precision, latent_shift=model.get("latent_shift", 0.0),
        )
        names = [f"synthetic_class{class_label}_seed{seed}_{start + k:05d}" for k in range(n)]
        records = [_record(model, seed + start + k, class_label, sampler, steps, eta, guidance_scale) for k in range(n)]
        written += save_generated(
            images.cpu(), out, names, fmt=format, manifest=manifest, records=records, window=window,
            modality=modality, model="medfusion", study=study,
        )
        bar.update(n)
    bar.close()
    logger.info("wrote %d synthetic images of class %d to %s", len(written), class_label, out)
    return written


def _record(model: dict, seed: int, label: int, sampler: str, steps: int, eta: float, scale: float) -> dict[str, Any]:
    names = model.get("class_names") or []
    return {
        "model": "medfusion",
        "checkpoint_sha256": model["checkpoint_sha256"],
        "autoencoder_sha256": model["autoencoder_sha256"],
        "seed": seed,
        "condition": {"class_label": int(label), "class_name": names[label] if label < len(names) else str(label)},
        "sampler": sampler,
        "steps": steps,
        "eta": eta,
        "guidance_scale": scale,
    }
