"""Med-cDiff evaluation: degrade a held-out set, restore it with every method, score it, write the tables.

For each evaluation setting of the task (one per super-resolution factor or noise level, one for
inpainting; :meth:`Degradation.settings`), the held-out images are degraded with the fixed, seeded
degradation (:meth:`Degradation.fixed`: image ``i`` of the split always gets the same noise or mask), then
restored by every method:

- ``degraded``: no restoration (the network input itself);
- ``bilinear`` / ``bicubic`` (sr only): interpolation of the low-resolution image;
- every trained model found as ``<checkpoint_dir>/<model>/final.pt`` (``diffusion``, ``pix2pix``, ``srgan``).

Each row of a setting's table holds the means over images of PSNR (dB, peak-to-peak range 2 of [-1, 1];
values capped at :data:`PSNR_CAP_DB` so that identical images, whose PSNR is infinite, keep the JSON
finite), SSIM, MS-SSIM, acutance, LPIPS (only when its weights exist locally, else ``n/a`` and the reason
in the log and in ``tables.json``) and FID of the restored set against the clean held-out set (Inception
pool3 features). As in the paper's Tables 1-3.

Downstream utility (the paper's protocols):

- denoise: a VGG11-style classifier trained on clean training images; its accuracy on the clean, noisy
  and each method's denoised test images;
- sr: a DynUNet trained on clean phantom images with their lung and heart masks; Dice per structure on the
  clean and each method's super-resolved images (phantom data only: other sources have no masks).

Held-out data: the ``test`` split of the source (MedMNIST ``.npz`` ``test_images``, CSV/JSON ``split``
column, ``train/val/test`` folders); for the phantom, the test split's phantoms, whose seeds never meet the
training split's. Outputs: ``tables.json`` and ``tables.md`` in ``output_dir``, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth.data import build_datalist
from monai_synth.downstream.segmentation import (
    dice_per_structure,
    phantom_segmentation_set,
    predict_segmentation,
    train_segmenter,
)
from monai_synth.downstream.vgg import train_vgg, vgg_accuracy
from monai_synth.engines.image_tensors import load_image_tensors
from monai_synth.engines.med_cdiff.infer import as_flag
from monai_synth.engines.med_cdiff.restorer import load_restorer, restore_batches
from monai_synth.io import atomic_open
from monai_synth.metrics import InceptionFeatureExtractor, acutance, fid_from_features, psnr, ssim_pairs
from monai_synth.metrics.lpips import LpipsWeightsError, lpips_distance
from monai_synth.metrics.ssim import ms_ssim_pairs
from monai_synth.transforms.degradation import downsample, make_degradation, upsample

logger = logging.getLogger("monai_synth")

__all__ = [
    "MODEL_NAMES",
    "split_is_held_out",
    "PSNR_CAP_DB",
    "HeldOut",
    "evaluate_restoration",
    "find_restorers",
    "load_heldout",
    "quality_row",
    "tables_markdown",
]

MODEL_NAMES: tuple[str, ...] = ("diffusion", "pix2pix", "srgan")
"""Trained models looked for under ``checkpoint_dir``, in table order."""
INTERPOLATION_MODES: tuple[str, ...] = ("bilinear", "bicubic")
PSNR_CAP_DB = 100.0
"""PSNR values above this (identical images give infinity) are reported as this value."""
METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("psnr", "PSNR (dB)"),
    ("ssim", "SSIM"),
    ("ms_ssim", "MS-SSIM"),
    ("fid", "FID"),
    ("acutance", "acutance"),
    ("lpips", "LPIPS"),
)
FeatureFn = Callable[[torch.Tensor], np.ndarray]


# ----------------------------------------------------------------------------------------------
# Data and methods
# ----------------------------------------------------------------------------------------------


@dataclass
class HeldOut:
    """Clean held-out images in [-1, 1] and what is known about them.

    Attributes:
        images: ``(N, C, H, W)``.
        labels: ``(N,)`` class indices.
        class_names: names of the classes.
        index: position of each image in its split (gives its degradation and sampling seed).
        masks: ``(N, 1, H, W)`` label maps (0 background, 1 lungs, 2 heart) for the phantom, else None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    index: list[int]
    masks: torch.Tensor | None = None


def _subset(total: int, num_images: int | None, seed: int) -> list[int]:
    """Indices of at most ``num_images`` of ``total`` items: a seeded draw, in increasing order."""
    if num_images is None or num_images >= total:
        return list(range(total))
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    return sorted(perm[: int(num_images)].tolist())


def load_heldout(
    dataset_dir: str | None,
    image_size: int,
    channels: int,
    intensity: Mapping[str, Any] | None,
    split: str = "test",
    num_images: int | None = None,
    seed: int = 0,
) -> HeldOut:
    """Load (a seeded subset of) a split, normalised as the models were trained.

    Args:
        dataset_dir: any source of the data layer; empty or None for the phantom.
        image_size: side of the model's images.
        channels: image channels of the model.
        intensity: the training ``intensity`` dict (``mode``, ``window``) recorded in the checkpoint.
        split: the held-out split.
        num_images: at most this many images (None: all; the phantom generates exactly this many).
        seed: seed of the subset draw and of the phantom.
    """
    intensity = dict(intensity or {})
    phantom = not dataset_dir
    data = load_image_tensors(
        dataset_dir or None, image_size, channels, intensity=intensity.get("mode") or "auto",
        window=intensity.get("window"), split=split, phantom_count=int(num_images or 64), seed=seed,
    )
    keep = _subset(len(data), num_images, seed)
    masks = phantom_segmentation_set(len(data), image_size, seed, split)[1][keep] if phantom else None
    return HeldOut(data.images[keep], data.labels[keep], list(data.class_names), keep, masks)


def split_is_held_out(dataset_dir: str | None, split: str = "test") -> bool:
    """Whether ``split`` of the source differs from its training split (False: the source has no splits).

    The phantom's splits always differ (disjoint seeds); a folder without ``train/val/test`` folders, a DICOM
    series or a NIfTI volume gives the same images for every split.
    """
    if split == "train":
        return False
    if not dataset_dir:
        return True
    def key(entry: dict) -> tuple:
        return str(entry["image"]), entry.get("split"), entry.get("index"), entry.get("frame")

    held, train = (sorted(map(key, build_datalist(dataset_dir, split=name))) for name in (split, "train"))
    return held != train


def find_restorers(
    checkpoint_dir: str | Path,
    models: Sequence[str] | None = None,
    device: str = "cpu",
    sampler: str = "dpmpp_2m",
    steps: int = 50,
    eta: float = 0.0,
    strength: float = 1.0,
) -> dict[str, Any]:
    """Load every trained model under ``checkpoint_dir`` (``<model>/final.pt``).

    Args:
        checkpoint_dir: the ``output_dir`` of ``train.json``.
        models: models to load (each must exist); None: every one of :data:`MODEL_NAMES` that exists.
        device: where to run them.
        sampler: diffusion sampler.
        steps: diffusion sampling steps.
        eta: DDIM eta.
        strength: where diffusion sampling starts (1: pure noise; see :class:`Restorer`).

    Returns:
        ``{model: Restorer}`` in table order.

    Raises:
        FileNotFoundError: a model named in ``models`` has no ``final.pt``.
    """
    found = [m for m in MODEL_NAMES if (Path(checkpoint_dir) / m / "final.pt").is_file()]
    names = found if models is None else [models] if isinstance(models, str) else list(models)
    return {m: load_restorer(checkpoint_dir, m, device=device, sampler=sampler, steps=steps, eta=eta, strength=strength)
            for m in names}


def _interpolated(clean: torch.Tensor, factor: float, mode: str) -> torch.Tensor:
    """The sr baseline: the low-resolution image interpolated back to full size."""
    return upsample(downsample(clean, factor), clean.shape[-2:], mode).clamp(-1.0, 1.0)


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


class _Lpips:
    """LPIPS when its weights exist; after the first failure every call answers None."""

    def __init__(self, weights: Mapping[str, str] | None) -> None:
        self.weights, self.skipped = (dict(weights) if weights else None), None

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> float | None:
        if self.skipped is not None:
            return None
        try:
            return float(lpips_distance(x, y, weights=self.weights).mean())
        except LpipsWeightsError as err:
            self.skipped = str(err)
            logger.warning("LPIPS skipped (column n/a): %s", err)
            return None


def _fid(features: np.ndarray | None, reference: np.ndarray | None) -> float | None:
    """FID of two feature sets (None without features or with fewer than 2 images)."""
    if features is None or reference is None or min(len(features), len(reference)) < 2:
        return None
    return max(0.0, float(fid_from_features(features, reference)))


def quality_row(
    restored: torch.Tensor,
    clean: torch.Tensor,
    *,
    reference_features: np.ndarray | None = None,
    feature_fn: FeatureFn | None = None,
    lpips: Callable[[torch.Tensor, torch.Tensor], float | None] | None = None,
) -> dict[str, float | None]:
    """One table row: mean PSNR (capped), SSIM, MS-SSIM, acutance, LPIPS and FID of restored vs clean.

    Args:
        restored: ``(N, C, H, W)`` in [-1, 1].
        clean: the matching clean images.
        reference_features: features of the clean images (for FID).
        feature_fn: images -> features (None: no FID).
        lpips: ``(x, y) -> mean LPIPS or None``.
    """
    small = min(clean.shape[-2:]) < 12
    features = feature_fn(restored) if feature_fn is not None else None
    return {
        "psnr": float(psnr(restored, clean).clamp(max=PSNR_CAP_DB).mean()),
        "ssim": float(ssim_pairs(restored, clean).mean()),
        "ms_ssim": None if small else float(ms_ssim_pairs(restored, clean).mean()),
        "fid": _fid(features, reference_features),
        "acutance": float(acutance(restored).mean()),
        "lpips": lpips(restored, clean) if lpips is not None else None,
    }


def _memoised(feature_fn: FeatureFn | None) -> FeatureFn | None:
    """``feature_fn`` computing each distinct image set once (e.g. sr's ``degraded`` equals ``bicubic``)."""
    if feature_fn is None:
        return None
    cache: dict[str, np.ndarray] = {}

    def features(images: torch.Tensor) -> np.ndarray:
        key = hashlib.sha256(images.detach().float().cpu().contiguous().numpy().tobytes()).hexdigest()
        if key not in cache:
            cache[key] = feature_fn(images)
        return cache[key]

    return features


def _default_feature_fn(device: str) -> FeatureFn:
    """Inception pool3 features (created on first use)."""
    extractor = InceptionFeatureExtractor(device=device, progress=False)
    return extractor.features


# ----------------------------------------------------------------------------------------------
# Downstream utility
# ----------------------------------------------------------------------------------------------


def _classification(
    train: tuple[torch.Tensor, torch.Tensor, int], opts: Mapping[str, Any]
) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """Train the VGG11-style classifier; returns ``(images, labels) -> accuracy``."""
    images, labels, num_classes = train
    net = train_vgg(images, labels, num_classes, epochs=opts["classifier_epochs"], batch_size=64,
                    width=opts["vgg_width"], seed=opts["seed"], device=opts["device"])
    return lambda x, y: vgg_accuracy(net, x, y)


def _segmentation(image_size: int, opts: Mapping[str, Any]) -> Callable[[torch.Tensor, torch.Tensor], dict[str, float]]:
    """Train the DynUNet on clean phantom train images; returns ``(images, masks) -> Dice per structure``."""
    images, labels = phantom_segmentation_set(opts["segmenter_images"], image_size, opts["seed"], "train")
    net = train_segmenter(images, labels, epochs=opts["segmenter_epochs"], batch_size=16,
                          seed=opts["seed"], device=opts["device"])
    return lambda x, masks: dice_per_structure(predict_segmentation(net, x), masks)


def _train_images(
    dataset_dir: str | None, heldout: HeldOut, intensity: Mapping[str, Any], opts: Mapping[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Clean training images (a seeded subset) for the classifier."""
    size, channels = heldout.images.shape[-1], heldout.images.shape[1]
    data = load_image_tensors(dataset_dir or None, size, channels, intensity=intensity.get("mode") or "auto",
                              window=intensity.get("window"), split="train", phantom_count=opts["classifier_images"],
                              seed=opts["seed"])
    keep = _subset(len(data), opts["classifier_images"], opts["seed"])
    return data.images[keep], data.labels[keep], max(len(heldout.class_names), int(data.labels.max()) + 1)


def downstream_utility(
    task: str,
    dataset_dir: str | None,
    heldout: HeldOut,
    outputs: Mapping[str, Mapping[str, torch.Tensor]],
    intensity: Mapping[str, Any],
    opts: Mapping[str, Any],
) -> dict[str, Any]:
    """Downstream scores of the clean images and of every method's output in every setting.

    Args:
        task: "sr" (segmentation Dice), "denoise" (classification accuracy); other tasks: skipped.
        dataset_dir: the data source (training split for the classifier).
        heldout: the clean held-out set.
        outputs: ``{setting: {method: images}}``.
        intensity: the training intensity settings.
        opts: ``classifier_images``, ``classifier_epochs``, ``segmenter_images``, ``segmenter_epochs``,
            ``vgg_width``, ``seed``, ``device``.

    Returns:
        ``{"kind", "metric", "network", "clean", "settings": {setting: {method: score}}}`` or
        ``{"skipped": reason}``.
    """
    if task == "denoise":
        if len(torch.unique(heldout.labels)) < 2:
            return {"skipped": "the held-out images have fewer than two classes"}
        score = _classification(_train_images(dataset_dir, heldout, intensity, opts), opts)
        network = f"VGG11-style classifier (width {opts['vgg_width']:g})"
        target, kind = heldout.labels, ("classification", "accuracy", network)
    elif task == "sr":
        if heldout.masks is None:
            return {"skipped": "segmentation Dice needs masks, which only the phantom data provides"}
        score = _segmentation(heldout.images.shape[-1], opts)
        target, kind = heldout.masks, ("segmentation", "dice", "MONAI DynUNet (nnU-Net style)")
    else:
        return {"skipped": f"no downstream protocol for task {task!r}"}
    return {
        "kind": kind[0], "metric": kind[1], "network": kind[2], "clean": score(heldout.images, target),
        "settings": {s: {m: score(x, target) for m, x in methods.items()} for s, methods in outputs.items()},
    }


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A table cell: 4 significant decimals, ``n/a`` for missing values, Dice dicts as ``lung 0.9 / heart 0.8``."""
    if value is None:
        return "n/a"
    if isinstance(value, Mapping):
        return " / ".join(f"{k} {_cell(v)}" for k, v in value.items())
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def _metric_table(setting: str, rows: Mapping[str, Mapping[str, Any]], reference_acutance: float) -> list[str]:
    """Markdown lines of one setting's quality table."""
    lines = [f"### {setting}", "", "| method | " + " | ".join(t for _, t in METRIC_COLUMNS) + " |",
             "|---|" + "---:|" * len(METRIC_COLUMNS)]
    lines += [f"| {m} | " + " | ".join(_cell(r.get(k)) for k, _ in METRIC_COLUMNS) + " |" for m, r in rows.items()]
    reference = [_cell(reference_acutance) if k == "acutance" else "" for k, _ in METRIC_COLUMNS]
    lines.append("| clean (reference) | " + " | ".join(reference) + " |")
    return lines + [""]


def _downstream_table(down: Mapping[str, Any]) -> list[str]:
    """Markdown lines of the downstream table (methods as rows, settings as columns)."""
    if "skipped" in down:
        return ["## Downstream utility", "", f"Skipped: {down['skipped']}.", ""]
    settings = list(down["settings"])
    methods = list(dict.fromkeys(m for s in settings for m in down["settings"][s]))
    lines = ["## Downstream utility", "", f"{down['network']}, {down['metric']} on the test images.", "",
             "| images | " + " | ".join(settings) + " |", "|---|" + "---:|" * len(settings),
             "| clean | " + " | ".join(_cell(down["clean"]) for _ in settings) + " |"]
    lines += [f"| {m} | " + " | ".join(_cell(down["settings"][s].get(m)) for s in settings) + " |" for m in methods]
    return lines + [""]


def _start(result: Mapping[str, Any]) -> str:
    """How diffusion sampling was set up, for the table heading (results written before eta/strength: nothing)."""
    if "strength" not in result:
        return ""
    start = "pure noise" if float(result["strength"]) >= 1 else f"the noised degraded image, strength {result['strength']:g}"
    return f", eta {result['eta']:g}, from {start}"


def tables_markdown(result: Mapping[str, Any]) -> str:
    """The Markdown report of an evaluation result (see :func:`evaluate_restoration`)."""
    head = [f"# Med-cDiff evaluation: task {result['task']}", "",
            f"Data: {result['dataset']} ({result['split']} split, {result['num_images']} images, "
            f"{result['image_size']} px). Sampler {result['sampler']}, {result['steps']} steps{_start(result)}. "
            f"PSNR capped at {PSNR_CAP_DB:g} dB; FID against the clean held-out images.", ""]
    if not result.get("split_is_held_out", True):
        head += [f"WARNING: the source has no {result['split']!r} split apart from its training images.", ""]
    if result.get("lpips_skipped"):
        head += [f"LPIPS column n/a: {result['lpips_skipped']}", ""]
    reference = result["acutance_reference"]
    body = [line for s, rows in result["metrics"].items() for line in _metric_table(s, rows, reference)]
    down = _downstream_table(result["downstream"]) if result.get("downstream") else []
    return "\n".join(head + body + down)


def _write_atomic(path: Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_open(path) as handle:
        handle.write(text.encode("utf-8"))


def _jsonable(value: Any) -> Any:
    """Floats that JSON can hold (NaN/inf -> None), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_tables(result: Mapping[str, Any], output_dir: str | Path) -> tuple[Path, Path]:
    """Write ``tables.json`` and ``tables.md`` atomically; returns their paths."""
    out = Path(output_dir)
    paths = out / "tables.json", out / "tables.md"
    _write_atomic(paths[0], json.dumps(_jsonable(result), indent=2, allow_nan=False) + "\n")
    _write_atomic(paths[1], tables_markdown(result))
    return paths


# ----------------------------------------------------------------------------------------------
# The whole evaluation
# ----------------------------------------------------------------------------------------------


def _task_and_degradation(
    restorers: Mapping[str, Any], task: str | None, degradation: Mapping[str, Any] | None
) -> tuple[str, Any]:
    """The task and the Degradation defining the settings: given explicitly, else the first model's."""
    tasks = {r.task for r in restorers.values()}
    if len(tasks) > 1:
        raise ValueError(
            f"the models under checkpoint_dir were trained for different tasks {sorted(tasks)}; "
            "evaluate one task per folder"
        )
    if task is not None and tasks and task not in tasks:
        raise ValueError(f"task {task!r} differs from the trained models' task {tasks.pop()!r}")
    if degradation is not None or not restorers:
        task = task if task is not None else (next(iter(tasks)) if tasks else None)
        if task is None:
            raise ValueError("no trained model found: give task (and degradation) to evaluate the baselines alone")
        return task, make_degradation(task, dict(degradation or {}))
    first = next(iter(restorers.values()))
    return first.task, first.degradation


def _model_shape(restorers: Mapping[str, Any], image_size: int | None, channels: int | None) -> tuple[int, int, dict]:
    """Image size, channels and intensity settings shared by the models (or given)."""
    shapes = {(r.image_size, r.channels) for r in restorers.values()}
    if len(shapes) > 1:
        raise ValueError(f"the models were trained on different image sizes/channels {sorted(shapes)}")
    size, chans = shapes.pop() if shapes else (image_size or 64, channels or 1)
    intensity = dict(next(iter(restorers.values())).intensity or {}) if restorers else {"mode": "auto", "window": None}
    return int(size), int(chans), intensity


def _model_info(name: str, restorer: Any) -> dict[str, Any]:
    """What the tables say about a trained model."""
    return {
        "description": getattr(restorer, "description", name),
        "checkpoint_sha256": getattr(restorer, "checkpoint_sha256", None),
        "class_names": list(getattr(restorer, "class_names", []) or []),
    }


def _check_data(restorers: Mapping[str, Any], heldout: HeldOut, dataset_dir: str | None) -> None:
    """Warn when the held-out classes differ from the models' training classes (wrong ``dataset_dir``?)."""
    for name, restorer in restorers.items():
        trained = list(getattr(restorer, "class_names", []) or [])
        if trained and trained != heldout.class_names:
            logger.warning(
                "%s was trained on classes %s but %s has classes %s: is dataset_dir the training data?",
                name, trained, dataset_dir or "the phantom", heldout.class_names,
            )


def _methods(task: str, restorers: Mapping[str, Any]) -> list[str]:
    """Row order: degraded, interpolation baselines (sr), trained models."""
    return ["degraded", *(INTERPOLATION_MODES if task == "sr" else ()), *restorers]


def _restore_setting(
    clean: torch.Tensor,
    condition: torch.Tensor,
    degradation: Any,
    setting: Mapping[str, Any],
    restorers: Mapping[str, Any],
    seeds: list[int],
    opts: Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Every method's output for one setting, and the seconds each took."""
    outputs, seconds = {"degraded": degradation.image_part(condition).clamp(-1, 1)}, {"degraded": 0.0}
    for mode in INTERPOLATION_MODES if degradation.task == "sr" else ():
        start = time.perf_counter()
        outputs[mode] = _interpolated(clean, float(setting["factor"]), mode)
        seconds[mode] = time.perf_counter() - start
    for name, restorer in restorers.items():
        start = time.perf_counter()
        desc = f"{setting['name']} {name}"
        outputs[name] = restore_batches(restorer, condition, seeds, opts["batch_size"], desc, opts["progress"])
        seconds[name] = time.perf_counter() - start
    return outputs, seconds


def _run_settings(
    heldout: HeldOut,
    degradation: Any,
    restorers: Mapping[str, Any],
    feature_fn: FeatureFn | None,
    lpips: _Lpips,
    opts: Mapping[str, Any],
) -> tuple[dict, dict, dict]:
    """Degrade, restore and score every setting: ``(metrics, outputs, seconds)``, each keyed by setting name."""
    clean = heldout.images
    seeds = [opts["seed"] * 1_000_003 + i for i in heldout.index]
    reference = feature_fn(clean) if feature_fn is not None else None
    metrics, outputs, seconds = {}, {}, {}
    for setting in degradation.settings():
        condition = degradation.fixed(clean, setting, seeds)
        outs, secs = _restore_setting(clean, condition, degradation, setting, restorers, seeds, opts)
        name = setting["name"]
        metrics[name] = {
            m: quality_row(x, clean, reference_features=reference, feature_fn=feature_fn, lpips=lpips)
            for m, x in outs.items()
        }
        outputs[name], seconds[name] = outs, secs
        logger.info("%s: PSNR %s", name, {m: round(r["psnr"], 2) for m, r in metrics[name].items()})
    return metrics, outputs, seconds


def evaluate_restoration(
    checkpoint_dir: str = "runs/med_cdiff",
    output_dir: str = "runs/med_cdiff/evaluation",
    dataset_dir: str | None = "",
    models: Sequence[str] | None = None,
    task: str | None = None,
    degradation: Mapping[str, Any] | None = None,
    split: str = "test",
    num_images: int | None = 64,
    image_size: int | None = None,
    channels: int | None = None,
    sampler: str = "dpmpp_2m",
    steps: int = 50,
    eta: float = 0.0,
    strength: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
    device: str = "cpu",
    fid: bool = True,
    lpips_weights: Mapping[str, str] | None = None,
    downstream: bool = True,
    classifier_images: int = 2000,
    classifier_epochs: int = 10,
    segmenter_images: int = 256,
    segmenter_epochs: int = 10,
    vgg_width: float = 0.125,
    progress: bool = True,
    restorers: Mapping[str, Any] | None = None,
    feature_fn: FeatureFn | None = None,
) -> dict[str, Any]:
    """Evaluate every restoration method on a held-out split and write ``tables.json`` / ``tables.md``.

    Args:
        checkpoint_dir: ``output_dir`` of ``train.json``; every ``<model>/final.pt`` in it is evaluated.
        output_dir: where the tables go (created).
        dataset_dir: the data the models were trained on (empty: phantom).
        models: restrict to these trained models (None: all found).
        task: the task, needed only without trained models (baselines alone) or as a check.
        degradation: degradation settings overriding the models' own (e.g. other sr factors).
        split: held-out split.
        num_images: at most this many held-out images (None: the whole split).
        image_size: model side, only without trained models (default 64).
        channels: image channels, only without trained models (default 1).
        sampler: diffusion sampler ("dpmpp_2m", "ddim", "ddpm").
        steps: diffusion sampling steps.
        eta: DDIM eta.
        strength: where diffusion sampling starts (1: pure noise, as in the paper; below 1: from the degraded
            image noised to ``round(strength * T) - 1``, see :class:`~monai_synth.engines.med_cdiff.restorer.Restorer`).
        batch_size: images per restoration batch.
        seed: seed of the held-out subset, the fixed degradations (image ``i`` uses ``seed * 1_000_003 + i``),
            the diffusion noise and the downstream networks.
        device: "cpu" or "cuda".
        fid: compute FID (Inception features of every method's images).
        lpips_weights: ``{"backbone": path, "lin": path}`` (None: looked for locally; n/a when absent).
        downstream: run the downstream utility check.
        classifier_images: clean training images of the classifier (denoise).
        classifier_epochs: its training epochs.
        segmenter_images: clean phantom training images of the segmentation network (sr).
        segmenter_epochs: its training epochs.
        vgg_width: width multiplier of the VGG11-style classifier.
        progress: show progress bars.
        restorers: ``{name: restorer}`` to use instead of loading checkpoints (tests, custom methods).
        feature_fn: images -> features for FID instead of Inception (tests).

    Returns:
        The result written to ``tables.json``.
    """
    fid, downstream, progress = as_flag(fid), as_flag(downstream), as_flag(progress)
    started = time.perf_counter()
    if restorers is None:
        restorers = find_restorers(checkpoint_dir, models, device, sampler, steps, eta, strength)
    task, degradation_obj = _task_and_degradation(restorers, task, degradation)
    size, chans, intensity = _model_shape(restorers, image_size, channels)
    heldout = load_heldout(dataset_dir, size, chans, intensity, split, num_images, seed)
    _check_data(restorers, heldout, dataset_dir)
    held_out = split_is_held_out(dataset_dir, split)
    if not held_out:
        logger.warning("%s has no %r split apart from its training images: the tables score training images",
                       dataset_dir, split)
    feature_fn = _memoised((feature_fn or _default_feature_fn(device)) if fid else None)
    lpips = _Lpips(lpips_weights)
    opts = {"batch_size": batch_size, "progress": progress, "seed": seed}
    metrics, outputs, seconds = _run_settings(heldout, degradation_obj, restorers, feature_fn, lpips, opts)
    down_opts = {"classifier_images": classifier_images, "classifier_epochs": classifier_epochs,
                 "segmenter_images": segmenter_images, "segmenter_epochs": segmenter_epochs,
                 "vgg_width": vgg_width, "seed": seed, "device": device}
    down = (downstream_utility(task, dataset_dir, heldout, outputs, intensity, down_opts) if downstream
            else {"skipped": "turned off (downstream=false)"})
    result = {
        "task": task,
        "dataset": dataset_dir or "phantom",
        "split": split,
        "split_is_held_out": held_out,
        "num_images": len(heldout.images),
        "image_size": size,
        "channels": chans,
        "intensity": intensity,
        "sampler": sampler,
        "steps": steps,
        "eta": eta,
        "strength": strength,
        "seed": seed,
        "methods": _methods(task, restorers),
        "settings": [dict(s) for s in degradation_obj.settings()],
        "models": {n: _model_info(n, r) for n, r in restorers.items()},
        "metrics": metrics,
        "acutance_reference": float(acutance(heldout.images).mean()),
        "lpips_skipped": lpips.skipped,
        "fid_features": "Inception-v3 pool3 (TF 2015-12-05)" if fid else None,
        "psnr_cap_db": PSNR_CAP_DB,
        "restore_seconds": seconds,
        "downstream": down,
        "seconds": round(time.perf_counter() - started, 1),
    }
    paths = write_tables(result, output_dir)
    logger.info("wrote %s and %s", *paths)
    return result
