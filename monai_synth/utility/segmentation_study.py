"""Segmentation utility of restored images (Med-cDiff): does a segmentation network trained on restored images
do as well on real images as one trained on the real images?

Used by ``monai-synth utility`` on a Med-cDiff run folder or exported bundle (:mod:`.command`), by
``bundles/med_cdiff/utility.json`` and directly::

    from monai_synth.utility.segmentation_study import SegmentationUtilityStudy
    metrics = SegmentationUtilityStudy("runs/med_cdiff/sr", "", "runs/med_cdiff/sr/utility").run()

Protocol:

1. read the real image/mask pairs of the training and held-out splits (the phantom's lung and heart masks, or a
   datalist of image/mask pairs; :mod:`.segmentation_data`), normalised and sized as the restorer was trained;
2. degrade the real training images with the run's own degradation (one evaluation setting of its task, e.g.
   sr x4), image ``i`` seeded ``restore_seed * 1_000_003 + i`` as ``evaluate.json`` does, and restore them with
   the run's restorer (diffusion noise seeded per image the same way);
3. train the nnU-Net-style DynUNet (:func:`monai_synth.downstream.segmentation.train_segmenter`, the same
   settings and seeds for every set) on (a) the real clean images, (b) the restored images, (c) the degraded
   images (the floor), each with the real masks;
4. test every network on the real clean held-out images: Dice and HD95 per structure and image
   (:mod:`monai_synth.metrics.utility.segmentation`); per training set, the mean over seeds with the spread
   (std, min, max) and a bootstrap interval over test images; paired differences restored - real and
   restored - degraded.

Output folder: ``restored/`` (the degraded and restored training images, and a few restored test images for
the gallery, with the settings they were made with), ``cells/`` (one JSON result per training set and seed),
``metrics.json`` and ``report.html``. A rerun reuses the restorations and every finished cell whose data and
settings match, and writes ``metrics.json`` and ``report.html`` (atomically, report first) only once every
cell is done: an interrupted study leaves neither. An interrupted restoration continues with the batches not
restored yet (``restored/partial_<fingerprint>/``, removed once ``restored.npz`` is written). Guide:
``docs/utility.md``.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth import __version__
from monai_synth.data.errors import DataError
from monai_synth.downstream.segmentation import PHANTOM_STRUCTURES, predict_segmentation, train_segmenter
from monai_synth.engines.med_cdiff.evaluation import MODEL_NAMES
from monai_synth.engines.med_cdiff.restorer import load_restorer, restore_batches
from monai_synth.io.atomic import atomic_open
from monai_synth.io.json_values import json_ready
from monai_synth.io.model_bundle import is_exported_bundle, read_bundle_settings
from monai_synth.io.output_guard import check_output_dir
from monai_synth.metrics.report import image_grid_png
from monai_synth.metrics.utility.segmentation import segmentation_per_image, summarise_segmentation
from monai_synth.metrics.utility.segmentation_report import render_segmentation_report
from monai_synth.metrics.utility.store import CellStore, fingerprint
from monai_synth.utility.generators import default_sampling, is_restorer
from monai_synth.utility.segmentation_data import SegmentationPairs, read_segmentation_pairs

__all__ = ["SETTINGS", "COMPARISONS", "SegmentationUtilityStudy"]

logger = logging.getLogger(__name__)

SETTINGS: tuple[str, ...] = ("real", "restored", "degraded")
"""Training sets, in report order: real clean images, their restorations, their degraded versions (the floor)."""
COMPARISONS: tuple[tuple[str, str], ...] = (("restored", "real"), ("restored", "degraded"))
"""Paired differences reported (first minus second)."""
SEED_STRIDE = 1_000_003
"""Image ``i`` of a split is degraded and restored with seed ``restore_seed * SEED_STRIDE + i`` (as evaluate.json)."""
VALUE_DIGITS = 6


def _digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _rounded(values: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else round(float(v), VALUE_DIGITS) for v in row] for row in values]


class SegmentationUtilityStudy:
    """Segmentation utility of a restorer's outputs: train on real, restored or degraded images, test on real.

    Args:
        restorer: a Med-cDiff run folder (``output_dir`` of ``bundles/med_cdiff/train.json``) or exported bundle;
            or a restorer object (``task``, ``degradation``, ``image_size``, ``channels``, ``intensity``, called as
            ``restorer(condition, seeds)``), e.g. in tests.
        real: the real image/mask pairs: empty for the phantom (lung and heart masks), else a CSV/JSON datalist
            with ``image``, ``mask`` and ``split`` columns.
        output_dir: where the restorations, the cell results, ``metrics.json`` and ``report.html`` go.
        model: which trained model of a run folder restores (None: the bundle's, else diffusion when trained,
            else the only one).
        setting: the degradation setting (e.g. ``"x4"`` for sr, a noise level name for denoise; None: the first
            of the run's settings).
        train_split: real split the networks train on (and whose images are degraded and restored).
        test_split: real held-out split every network is tested on (clean images).
        structures: names of labels 1..K (None: ``lung``, ``heart`` for the phantom, ``label1`` .. ``labelK`` for
            a datalist, K the largest label of the training masks).
        phantom_count: phantom images per split when ``real`` is empty.
        seeds: training seeds (each training set trains once per seed).
        epochs: passes of every network over its training images.
        batch_size: images per step.
        lr: peak learning rate (AdamW, one-cycle).
        base_filters: filters of the DynUNet's first level.
        sampling: the restorer's diffusion sampling (``sampler``, ``steps``, ``eta``, ``strength``); missing keys
            take :func:`~monai_synth.utility.generators.default_sampling` ``("med_cdiff")``.
        restore_seed: seed of the degradation and restoration of every image.
        restore_batch_size: images restored at once.
        gallery: test images shown in the report (also degraded and restored for it).
        num_bootstrap: bootstrap replicates of every interval (0: none).
        confidence: interval coverage.
        bootstrap_seed: seed of the resampling.
        device: torch device (None: CUDA when available).
        progress: progress bars.
        overwrite: write into an output folder that holds data monai_synth did not write.
    """

    def __init__(
        self,
        restorer: str | os.PathLike | Any,
        real: str | os.PathLike | None,
        output_dir: str | os.PathLike,
        *,
        model: str | None = None,
        setting: str | None = None,
        train_split: str = "train",
        test_split: str = "test",
        structures: Sequence[str] | None = None,
        phantom_count: int = 64,
        seeds: Sequence[int] = (0, 1, 2),
        epochs: int = 20,
        batch_size: int = 16,
        lr: float = 1e-2,
        base_filters: int = 8,
        sampling: Mapping[str, Any] | None = None,
        restore_seed: int = 0,
        restore_batch_size: int = 16,
        gallery: int = 4,
        num_bootstrap: int = 1000,
        confidence: float = 0.95,
        bootstrap_seed: int = 0,
        device: str | None = None,
        progress: bool = True,
        overwrite: bool = False,
    ) -> None:
        if not seeds:
            raise ValueError("seeds must name at least one training seed")
        if structures is not None and (isinstance(structures, str) or not list(structures)):
            raise ValueError(f"structures must be a non-empty list of names, got {structures!r}")
        if model is not None and model not in MODEL_NAMES:
            raise ValueError(f"model must be one of {MODEL_NAMES}, got {model!r}")
        self.restorer, self.real, self.output_dir = restorer, real, Path(output_dir)
        self.model, self.setting_name = model, setting
        self.train_split, self.test_split = train_split, test_split
        self.structures = list(structures) if structures is not None else None
        self.phantom_count = int(phantom_count)
        self.seeds = [int(s) for s in seeds]
        self.training = {"epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
                         "base_filters": int(base_filters)}  # fmt: skip
        given = {k: v for k, v in dict(sampling or {}).items() if v is not None}
        defaults = default_sampling("med_cdiff")
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise ValueError(f"unknown sampling setting(s) {unknown}; known: {sorted(defaults)}")
        self.sampling = {**defaults, **given}
        self.restore_seed, self.restore_batch_size = int(restore_seed), int(restore_batch_size)
        self.gallery = max(0, int(gallery))
        self.num_bootstrap, self.confidence, self.bootstrap_seed = int(num_bootstrap), float(confidence), bootstrap_seed
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.progress, self.overwrite = progress, overwrite

    # ----------------------------------------------------------------------------------------------- restorer
    def _is_path(self) -> bool:
        return isinstance(self.restorer, (str, os.PathLike))

    def _model_name(self, path: Path) -> str:
        if self.model is not None:
            return self.model
        if is_exported_bundle(path):
            return str(read_bundle_settings(path).get("model") or "diffusion")
        found = [m for m in MODEL_NAMES if (path / m / "final.pt").is_file()]
        return found[0]  # diffusion first (MODEL_NAMES order); is_restorer() made sure one exists

    def open_restorer(self) -> Any:
        """The restorer object (loaded from the run folder or bundle when a path was given)."""
        if not self._is_path():
            return self.restorer
        path = Path(self.restorer)
        if not path.exists():
            raise DataError("no such Med-cDiff run folder or exported bundle", path)
        if not is_restorer(path):
            raise DataError("not a Med-cDiff run folder (<model>/final.pt) or exported Med-cDiff bundle", path)
        name = self._model_name(path)
        try:
            return load_restorer(path, name, device=self.device, sampler=self.sampling["sampler"],
                                 steps=int(self.sampling["steps"]), eta=float(self.sampling["eta"]),
                                 strength=float(self.sampling["strength"]))  # fmt: skip
        except FileNotFoundError as err:
            raise DataError(str(err).split(": ", 1)[-1], path) from err
        except DataError:
            raise
        except (RuntimeError, EOFError, OSError, ValueError, KeyError, pickle.UnpicklingError) as err:
            raise DataError(f"cannot load the {name} restorer ({type(err).__name__}: {err})", path) from err

    def _degradation_setting(self, restorer: Any) -> dict[str, Any]:
        settings = [dict(s) for s in restorer.degradation.settings()]
        if self.setting_name is None:
            return settings[0]
        for s in settings:
            if s["name"] == self.setting_name:
                return s
        names = ", ".join(s["name"] for s in settings)
        raise DataError(f"the restorer's {restorer.task} degradation has no setting {self.setting_name!r} "
                        f"(it has: {names})", self.restorer if self._is_path() else None)  # fmt: skip

    # ----------------------------------------------------------------------------------------------- data
    def load_pairs(self, restorer: Any) -> tuple[SegmentationPairs, SegmentationPairs, list[str]]:
        """Real training and held-out pairs at the restorer's size, and the structure names."""
        intensity = dict(getattr(restorer, "intensity", None) or {})
        common = {"image_size": int(restorer.image_size), "channels": int(restorer.channels),
                  "intensity": intensity.get("mode") or "auto", "window": intensity.get("window"),
                  "phantom_count": self.phantom_count}  # fmt: skip
        known = self.structures if self.structures is not None else (None if self.real else list(PHANTOM_STRUCTURES))
        train = read_segmentation_pairs(self.real, self.train_split, num_structures=len(known) if known else None,
                                        **common)  # fmt: skip
        if known is None:
            if train.max_label < 1:
                raise DataError("every training mask is empty (label 0 only); there is no structure to segment",
                                train.source)  # fmt: skip
            known = [f"label{k}" for k in range(1, train.max_label + 1)]
        test = read_segmentation_pairs(self.real, self.test_split, num_structures=len(known), **common)
        for split in (train, test):
            if split.max_label < 1:
                raise DataError("every mask is empty (label 0 only); Dice and HD95 need structures", split.source)
        return train, test, known

    def _seeds(self, count: int) -> list[int]:
        return [self.restore_seed * SEED_STRIDE + i for i in range(count)]

    def restore(self, restorer: Any, setting: dict[str, Any], train: SegmentationPairs,
                test: SegmentationPairs) -> dict[str, torch.Tensor]:  # fmt: skip
        """Degraded and restored training images, and the gallery's test images; reused from ``restored/``."""
        shown = test.images[: self.gallery]
        key = fingerprint(getattr(restorer, "checkpoint_sha256", None), getattr(restorer, "description", None),
                          self.sampling if getattr(restorer, "model", "diffusion") == "diffusion" else None, setting,
                          self.restore_seed, _digest(train.images), _digest(shown))  # fmt: skip
        path = self.output_dir / "restored" / "restored.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    if str(stored["fingerprint"]) == key:
                        logger.info("restored images reused from %s", path)
                        return {k: torch.from_numpy(stored[k]) for k in stored.files if k != "fingerprint"}
            except (OSError, ValueError, KeyError) as err:
                logger.warning("%s: unreadable, restoring again (%s)", path, err)
        partial = path.parent / f"partial_{key}"  # finished batches of an interrupted restoration
        out: dict[str, torch.Tensor] = {}
        for name, clean in (("train", train.images), ("gallery", shown)):
            seeds = self._seeds(len(clean))
            if len(clean) == 0:
                out[f"{name}_degraded"] = out[f"{name}_restored"] = clean.clone()
                continue
            condition = restorer.degradation.fixed(clean, setting, seeds)
            out[f"{name}_degraded"] = restorer.degradation.image_part(condition).clamp(-1, 1).float().cpu()
            out[f"{name}_restored"] = self._restore_in_batches(restorer, condition, seeds, partial, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, fingerprint=np.asarray(key), **{k: v.numpy() for k, v in out.items()})
        with atomic_open(path) as handle:
            handle.write(buffer.getvalue())
        for stale in path.parent.glob("partial_*"):  # this one is now in restored.npz; others are outdated
            shutil.rmtree(stale, ignore_errors=True)
        return out

    def _restore_in_batches(self, restorer: Any, condition: torch.Tensor, seeds: Sequence[int], folder: Path,
                            name: str) -> torch.Tensor:  # fmt: skip
        """``restore_batches`` one batch at a time, each kept in ``folder`` (atomically) so that a rerun continues."""
        from tqdm import tqdm

        parts = []
        starts = range(0, len(condition), self.restore_batch_size)
        for start in tqdm(starts, desc=f"restoring {name} images", unit="batch", disable=not self.progress):
            stop = min(start + self.restore_batch_size, len(condition))
            file = folder / f"{name}_{start:06d}_{stop:06d}.npy"
            if file.is_file():
                try:
                    parts.append(torch.from_numpy(np.load(file)))
                    continue
                except (OSError, ValueError) as err:
                    logger.warning("%s: unreadable, restoring the batch again (%s)", file, err)
            part = restore_batches(restorer, condition[start:stop], seeds[start:stop], stop - start, progress=False)
            folder.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            np.save(buffer, part.numpy())
            with atomic_open(file) as handle:
                handle.write(buffer.getvalue())
            parts.append(part)
        return torch.cat(parts)

    # ----------------------------------------------------------------------------------------------- cells
    def training_images(self, name: str, train: SegmentationPairs,
                        restored: Mapping[str, torch.Tensor]) -> torch.Tensor:  # fmt: skip
        """The images a training set is made of (always with the real training masks)."""
        return {"real": train.images, "restored": restored["train_restored"],
                "degraded": restored["train_degraded"]}[name]  # fmt: skip

    def run_cell(self, name: str, seed: int, images: torch.Tensor, train: SegmentationPairs, test: SegmentationPairs,
                 structures: Sequence[str], key_fingerprint: str) -> dict[str, Any]:  # fmt: skip
        """Train one network on ``images`` (with the real training masks) and test it on the real test images."""
        start = time.perf_counter()
        net = train_segmenter(images, train.masks, num_classes=len(structures) + 1, seed=seed, device=self.device,
                              **self.training)  # fmt: skip
        pred = predict_segmentation(net, test.images.to(self.device)).cpu()
        scores = segmentation_per_image(pred, test.masks, len(structures))
        return {
            "key": f"{name}/seed{seed}", "fingerprint": key_fingerprint, "setting": name, "seed": seed,
            "n_train": int(len(images)), "n_test": int(len(test)),
            "dice": _rounded(scores["dice"]), "hd95": _rounded(scores["hd95"]),
            "empty_prediction": scores["empty_prediction"].sum(axis=0).astype(int).tolist(),
            "gallery_predictions": pred[: self.gallery, 0].tolist(),
            "seconds": round(time.perf_counter() - start, 2),
        }  # fmt: skip

    def run_cells(self, train: SegmentationPairs, test: SegmentationPairs, restored: Mapping[str, torch.Tensor],
                  structures: Sequence[str]) -> dict[str, list[dict]]:  # fmt: skip
        """Every cell's result: stored ones with the same fingerprint, the others computed and stored."""
        from tqdm import tqdm

        store = CellStore(self.output_dir / "cells")
        test_digest = _digest(test.images, test.masks)
        expected = {n: fingerprint(_digest(self.training_images(n, train, restored), train.masks), test_digest,
                                   self.training, list(structures), self.gallery) for n in SETTINGS}  # fmt: skip
        results: dict[str, dict] = {}
        todo = []
        for name in SETTINGS:
            for seed in self.seeds:
                key = f"{name}/seed{seed}"
                found = store.get(key, expected[name])
                if found is None:
                    todo.append((name, seed))
                else:
                    results[key] = found
        if results:
            logger.info("%d of %d cells already finished in %s", len(results), len(results) + len(todo), store.folder)
        for name, seed in tqdm(todo, desc="training segmentation networks", disable=not self.progress):
            key = f"{name}/seed{seed}"
            images = self.training_images(name, train, restored)
            results[key] = self.run_cell(name, seed, images, train, test, structures, expected[name])
            store.put(key, results[key])
        return {n: [results[f"{n}/seed{s}"] for s in self.seeds] for n in SETTINGS}

    # ----------------------------------------------------------------------------------------------- run
    def _study_settings(self, restorer: Any, setting: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "train_split": self.train_split, "test_split": self.test_split, "seeds": self.seeds,
            "training": self.training, "network": "MONAI DynUNet (nnU-Net style), Dice + cross-entropy",
            "task": restorer.task, "degradation_setting": dict(setting),
            "restorer": getattr(restorer, "description", type(restorer).__name__),
            "checkpoint_sha256": getattr(restorer, "checkpoint_sha256", None),
            "sampling": self.sampling if getattr(restorer, "model", "diffusion") == "diffusion" else None,
            "restore_seed": self.restore_seed, "num_bootstrap": self.num_bootstrap, "confidence": self.confidence,
            "bootstrap_seed": self.bootstrap_seed, "device": str(self.device),
        }  # fmt: skip

    def run(self) -> dict[str, Any]:
        """Run (or continue) the study; write and return ``metrics.json``'s dict."""
        start = time.perf_counter()
        out = check_output_dir(self.output_dir, [self.real], overwrite=self.overwrite)
        for name in ("metrics.json", "report.html"):  # only a finished study has them
            (out / name).unlink(missing_ok=True)
        restorer = self.open_restorer()
        setting = self._degradation_setting(restorer)
        train, test, structures = self.load_pairs(restorer)
        restored = self.restore(restorer, setting, train, test)
        cells = self.run_cells(train, test, restored, structures)
        summary = summarise_segmentation(SETTINGS, cells, structures, COMPARISONS, self.num_bootstrap,
                                         self.confidence, self.bootstrap_seed)  # fmt: skip
        metrics: dict[str, Any] = {
            "complete": True,
            "utility": "segmentation",
            "restorer": os.fspath(self.restorer) if self._is_path() else getattr(restorer, "description", "restorer"),
            "real": os.fspath(self.real) if self.real else "phantom",
            "structures": list(structures),
            "n_real_train": len(train), "n_real_test": len(test),
            "image_size": int(test.images.shape[-1]), "channels": int(test.images.shape[1]),
            "settings_trained": list(SETTINGS),
            "study": self._study_settings(restorer, setting),
            **summary,
            "train_seconds": {n: round(sum(c["seconds"] for c in cells[n]), 1) for n in SETTINGS},
            "cells": len(SETTINGS) * len(self.seeds),
            "seconds": round(time.perf_counter() - start, 1),
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "monai_synth_version": __version__,
        }
        metrics = json_ready(metrics)
        self._write(out, metrics, test, restored, cells, structures)
        return metrics

    def _write(self, out: Path, metrics: dict[str, Any], test: SegmentationPairs, restored: Mapping[str, torch.Tensor],
               cells: Mapping[str, list[dict]], structures: Sequence[str]) -> None:  # fmt: skip
        k = max(1, len(structures))

        def as_image(label_map) -> torch.Tensor:
            return torch.as_tensor(label_map, dtype=torch.float32).reshape(1, *test.images.shape[-2:]) * (2.0 / k) - 1.0

        rows = []
        for i in range(min(self.gallery, len(test))):
            rows += [test.images[i, :1], restored["gallery_degraded"][i, :1], restored["gallery_restored"][i, :1],
                     as_image(test.masks[i])]  # fmt: skip
            rows += [as_image(cells[n][0]["gallery_predictions"][i]) for n in SETTINGS]
        columns = ["real", "degraded", "restored", "true mask"] + [f"trained on {n}" for n in SETTINGS]
        gallery = image_grid_png(rows, columns=len(columns), tile=96) if rows else None
        html_text = render_segmentation_report(metrics, gallery, columns)
        with atomic_open(out / "report.html") as handle:
            handle.write(html_text.encode("utf-8"))
        with atomic_open(out / "metrics.json") as handle:  # last: its presence means the study is complete
            handle.write((json.dumps(metrics, indent=1, allow_nan=False) + "\n").encode("utf-8"))
        logger.info("segmentation utility study written to %s", out)
