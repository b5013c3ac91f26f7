"""A downstream utility study, from a generator (or a folder of labelled synthetic images) and real data to
``metrics.json`` and ``report.html``.

Used by ``monai-synth utility`` (:mod:`.command`), by ``bundles/<model>/utility.json`` and directly::

    from monai_synth.utility import UtilityStudy
    metrics = UtilityStudy("runs/mednist", "../shared/data/mednist_64_500/split.csv", "runs/mednist/utility").run()

Steps: read the real training and held-out splits; fill the synthetic pool (generator) or read the folder;
train and test one classifier per cell (setting x seed), skipping cells already finished with the same data
and settings; combine the cells (:mod:`monai_synth.metrics.utility.summary`); write ``metrics.json`` and ``report.html`` (both atomically,
and only once every cell is done: an interrupted study leaves neither, a rerun continues). Output folder:

- ``synthetic/``: the generated pool (PNG + ``manifest.jsonl`` + ``pool.json``), when the source is a model;
- ``cells/``: one JSON result per finished cell;
- ``metrics.json``, ``report.html``.

Definitions and measured figures: ``docs/utility.md``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth.io.json_values import json_ready
from monai_synth import __version__
from monai_synth.data.errors import DataError
from monai_synth.io.atomic import atomic_open
from monai_synth.io.output_guard import check_output_dir
from monai_synth.metrics.report import image_grid_png
from monai_synth.metrics.utility.cell import StudyData, TrainingSettings, run_cell
from monai_synth.metrics.utility.classifiers import NETWORKS
from monai_synth.metrics.utility.inputs import (
    LabelledImages,
    check_real_classes,
    native_shape,
    read_real,
    read_synthetic_folder,
)
from monai_synth.metrics.utility.plan import Cell, class_counts, plan_cells, plan_settings
from monai_synth.metrics.utility.pool import fill_pool, pool_wanted
from monai_synth.metrics.utility.report import render_utility_report
from monai_synth.metrics.utility.store import CellStore, fingerprint
from monai_synth.metrics.utility.summary import summarise
from monai_synth.utility.generators import model_kind, open_model

__all__ = ["UtilityStudy"]

logger = logging.getLogger(__name__)


def _tensor_digest(*tensors: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class UtilityStudy:
    """TRTR against TSTR, the augmentation curve and conditional fidelity of synthetic images.

    Args:
        synthetic: a Medfusion or StyleGAN2-ADA run folder or exported bundle, or a folder (any data-layer
            source) of synthetic images with class labels.
        real: the real data (any data-layer source with class labels; empty: the embedded phantom).
        output_dir: where the pool, the cell results, ``metrics.json`` and ``report.html`` go.
        synthetic_labels: labels file for a synthetic folder (default: its ``manifest.jsonl`` or class folders).
        train_split: real split to train on (and to subsample).
        test_split: real held-out split every classifier is tested on.
        networks: classifiers to train (``"vgg11"``, ``"monai_classifier"``).
        real_fractions: shares of the real training split (1.0 is always added).
        synthetic_multiples: synthetic images added, as multiples of the real images used (0 is always added).
        tstr_multiple: TSTR trains on this multiple of the real training split's size in synthetic images
            (same class proportions); None or 0: no TSTR.
        seeds: training seeds (each setting trains once per seed).
        train_steps: optimisation steps of every classifier (the budget).
        batch_size: images per step.
        lr: peak learning rate (AdamW, one-cycle).
        vgg_width: width multiplier of VGG11 (1.0 = the original; 0.125 fits a CPU).
        augment: random shifts of each training batch.
        image_size: side of the images; None: the generator's size, or the real images' for a folder.
        channels: image channels; None: the generator's, or the real images' for a folder.
        intensity: normalisation of the real images; None: the generator's training setting, else ``"auto"``.
        window: CT window of the real images; None: the generator's training setting.
        phantom_count: phantom images per split when ``real`` is empty.
        sampling: sampling settings of the generator (Medfusion: ``sampler``, ``steps``, ``eta``,
            ``guidance_scale``, ``precision``; StyleGAN2-ADA: ``truncation_psi``); missing keys take
            :func:`~monai_synth.utility.generators.default_sampling`.
        sample_seed: seed of the first synthetic image (image i of class c: ``sample_seed + 1e6 c + i``).
        sample_batch_size: images generated at once.
        num_bootstrap: bootstrap replicates of every interval (0: none).
        confidence: interval coverage.
        bootstrap_seed: seed of the resampling.
        device: torch device (None: CUDA when available).
        progress: progress bars.
        overwrite: write into an output folder that holds data monai_synth did not write.
    """

    def __init__(
        self,
        synthetic: str | os.PathLike,
        real: str | os.PathLike | None,
        output_dir: str | os.PathLike,
        *,
        synthetic_labels: str | os.PathLike | Sequence[int] | None = None,
        train_split: str = "train",
        test_split: str = "test",
        networks: Sequence[str] = ("vgg11", "monai_classifier"),
        real_fractions: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
        synthetic_multiples: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0),
        tstr_multiple: float | None = 1.0,
        seeds: Sequence[int] = (0, 1, 2),
        train_steps: int = 500,
        batch_size: int = 64,
        lr: float = 1e-3,
        vgg_width: float = 0.125,
        augment: bool = True,
        image_size: int | None = None,
        channels: int | None = None,
        intensity: str | None = None,
        window: str | Sequence[float] | None = None,
        phantom_count: int = 64,
        sampling: Mapping[str, Any] | None = None,
        sample_seed: int = 0,
        sample_batch_size: int = 64,
        num_bootstrap: int = 1000,
        confidence: float = 0.95,
        bootstrap_seed: int = 0,
        device: str | None = None,
        progress: bool = True,
        overwrite: bool = False,
    ) -> None:
        unknown = [n for n in networks if n not in NETWORKS]
        if unknown:
            raise ValueError(f"unknown network(s) {unknown}; choose from {NETWORKS}")
        self.synthetic, self.real, self.output_dir = synthetic, real, Path(output_dir)
        self.synthetic_labels = synthetic_labels
        self.train_split, self.test_split = train_split, test_split
        self.settings = plan_settings(list(networks), list(real_fractions), list(synthetic_multiples), tstr_multiple)
        self.seeds = [int(s) for s in seeds]
        self.cells = plan_cells(self.settings, self.seeds)
        self.training = TrainingSettings(int(train_steps), int(batch_size), float(lr), float(vgg_width), bool(augment))
        self.image_size, self.channels, self.intensity, self.window = image_size, channels, intensity, window
        self.phantom_count = int(phantom_count)
        self.sampling = dict(sampling or {})
        self.sample_seed, self.sample_batch_size = int(sample_seed), int(sample_batch_size)
        self.num_bootstrap, self.confidence, self.bootstrap_seed = int(num_bootstrap), float(confidence), bootstrap_seed
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.progress, self.overwrite = progress, overwrite
        self.warnings: list[str] = []
        self.kind: str | None = None
        self.pool_sampling: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------------------------- inputs
    def _real(self, size: int, channels: int, intensity: str, window, num_classes: int | None):
        train = read_real(self.real, self.train_split, size, channels, intensity, window, num_classes,
                          self.phantom_count)  # fmt: skip
        n = num_classes or max(int(train.labels.max()) + 1, len(train.class_names))
        test = read_real(self.real, self.test_split, size, channels, intensity, window, n, self.phantom_count)
        return train, test, n

    def _multiples(self) -> list[float]:
        return [s.synthetic_multiple for s in self.settings]

    def _from_model(self, model) -> StudyData:
        if self.image_size not in (None, model.image_size):
            raise DataError(f"the generator makes {model.image_size} px images; image_size {self.image_size} "
                            "cannot be used with it (leave image_size unset)", model.path)  # fmt: skip
        recorded = model.intensity or {}
        intensity = self.intensity or recorded.get("mode") or "auto"
        window = self.window if self.window is not None else recorded.get("window")
        train, test, n = self._real(model.image_size, model.channels, intensity, window, model.num_classes)
        names = model.class_names if len(model.class_names) == n else train.class_names
        check_real_classes(train, test, n, names)
        wanted = pool_wanted(class_counts(train.labels.numpy(), n), self._multiples())
        pool = fill_pool(model, self.output_dir / "synthetic", wanted, self.sample_seed, self.sample_batch_size,
                         self.progress)  # fmt: skip
        synthetic = read_synthetic_folder(pool, None, (model.channels, model.image_size, model.image_size), n, names)
        keep = _first_per_class(synthetic.labels, wanted)  # a pool left larger by an earlier study: use what is asked
        synthetic = LabelledImages(synthetic.images[keep], synthetic.labels[keep], synthetic.source, names)
        return StudyData(train, test, synthetic, list(names))

    def _from_folder(self) -> StudyData:
        c, h, w = native_shape(self.real, self.train_split, self.phantom_count)
        size = int(self.image_size or w)
        if self.image_size is None and h != w:
            raise DataError(f"the real images are {h} x {w} px, not square; set image_size", self.real or "phantom")
        channels = int(self.channels or (3 if c == 3 else 1))
        train, test, n = self._real(size, channels, self.intensity or "auto", self.window, None)
        check_real_classes(train, test, n, train.class_names)
        synthetic = read_synthetic_folder(self.synthetic, self.synthetic_labels, (channels, size, size), n,
                                          train.class_names)  # fmt: skip
        return StudyData(train, test, synthetic, list(train.class_names))

    def load(self) -> StudyData:
        """Read the real splits and the synthetic images (filling the pool first when the source is a model)."""
        self.kind = model_kind(self.synthetic)
        if self.kind is None:
            return self._from_folder()
        model = open_model(self.synthetic, self.device, self.sampling)
        self.pool_sampling = dict(model.sampling)  # what the pool is made with, defaults included
        return self._from_model(model)

    def _check_coverage(self, data: StudyData) -> None:
        have = class_counts(data.synthetic.labels.numpy(), data.num_classes)
        for c in np.flatnonzero(have == 0):
            self.warnings.append(f"the synthetic images hold no image of class {c} ({data.class_names[c]}): "
                                 "TSTR classifiers never see it")  # fmt: skip

    # ----------------------------------------------------------------------------------------------- run
    def fingerprint(self, data: StudyData) -> str:
        """What every cell result depends on besides its own setting and seed."""
        return fingerprint(
            _tensor_digest(data.train.images, data.train.labels), _tensor_digest(data.test.images, data.test.labels),
            _tensor_digest(data.synthetic.images, data.synthetic.labels), self.training.to_dict(),
        )  # fmt: skip

    def run_cells(self, data: StudyData) -> dict[str, dict]:
        """Results of every cell: stored ones with the same fingerprint, the others computed and stored."""
        from tqdm import tqdm

        store, expected = CellStore(self.output_dir / "cells"), self.fingerprint(data)
        results: dict[str, dict] = {}
        todo: list[Cell] = []
        for cell in self.cells:
            found = store.get(cell.key, expected)
            if found is None:
                todo.append(cell)
            else:
                results[cell.key] = found
        if results:
            logger.info("%d of %d cells already finished in %s", len(results), len(self.cells), store.folder)
        for cell in tqdm(todo, desc="training classifiers", disable=not self.progress):
            results[cell.key] = run_cell(cell, data, self.training, self.device, expected)
            store.put(cell.key, results[cell.key])
        return results

    def _study_settings(self) -> dict[str, Any]:
        return {
            "train_split": self.train_split, "test_split": self.test_split, "seeds": self.seeds,
            "networks": list(dict.fromkeys(s.network for s in self.settings)),
            "real_fractions": sorted({s.real_fraction for s in self.settings if s.real_fraction > 0}),
            "synthetic_multiples": sorted({s.synthetic_multiple for s in self.settings if s.real_fraction > 0}),
            "tstr_multiple": next((s.synthetic_multiple for s in self.settings if s.kind == "tstr"), None),
            "training": self.training.to_dict(), "sampling": self.pool_sampling, "sample_seed": self.sample_seed,
            "num_bootstrap": self.num_bootstrap, "confidence": self.confidence, "bootstrap_seed": self.bootstrap_seed,
            "device": str(self.device),
        }  # fmt: skip

    def run(self) -> dict[str, Any]:
        """Run (or continue) the study; write and return ``metrics.json``'s dict."""
        start = time.perf_counter()
        self.warnings = []
        is_model = model_kind(self.synthetic) is not None  # a run folder may hold the output folder; images not
        inputs = [self.real, None if is_model else self.synthetic,
                  self.synthetic_labels if isinstance(self.synthetic_labels, (str, os.PathLike)) else None]
        out = check_output_dir(self.output_dir, inputs, overwrite=self.overwrite)
        for name in ("metrics.json", "report.html"):  # only a finished study has them
            (out / name).unlink(missing_ok=True)
        data = self.load()
        self._check_coverage(data)
        results = self.run_cells(data)
        summary = summarise(self.settings, self.seeds, results, data.test.labels.numpy(), data.synthetic.labels.numpy(),
                            data.class_names, self.num_bootstrap, self.confidence, self.bootstrap_seed)  # fmt: skip
        shortfalls = [r for r in summary["settings"] if any(r.get("synthetic_shortfall") or [])]
        for r in shortfalls:
            self.warnings.append(f"{r['network']} {r['label']}: the synthetic images lack "
                                 f"{sum(r['synthetic_shortfall'])} of the images asked for (per class "
                                 f"{r['synthetic_shortfall']}); it trains on fewer")  # fmt: skip
        metrics: dict[str, Any] = {
            "complete": True,
            "synthetic": os.fspath(self.synthetic), "synthetic_kind": self.kind or "folder",
            "real": os.fspath(self.real) if self.real else "phantom",
            "class_names": data.class_names,
            "n_real_train": len(data.train), "n_real_test": len(data.test), "n_synthetic_pool": len(data.synthetic),
            "real_train_per_class": class_counts(data.train.labels.numpy(), data.num_classes).tolist(),
            "real_test_per_class": class_counts(data.test.labels.numpy(), data.num_classes).tolist(),
            "synthetic_per_class": class_counts(data.synthetic.labels.numpy(), data.num_classes).tolist(),
            "image_size": int(data.test.images.shape[-1]), "channels": int(data.test.images.shape[1]),
            "study": self._study_settings(),
            **summary,
            "warnings": list(dict.fromkeys(self.warnings)),
            "cells": len(self.cells),
            "seconds": round(time.perf_counter() - start, 1),
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "monai_synth_version": __version__,
        }
        metrics = json_ready(metrics)
        self._write(out, metrics, data)
        return metrics

    def _write(self, out: Path, metrics: dict[str, Any], data: StudyData) -> None:
        grids = {"real held-out": _class_grid(data.test, data.num_classes),
                 "synthetic": _class_grid(data.synthetic, data.num_classes)}
        html_text = render_utility_report(metrics, grids)
        with atomic_open(out / "report.html") as handle:
            handle.write(html_text.encode("utf-8"))
        with atomic_open(out / "metrics.json") as handle:  # last: its presence means the study is complete
            handle.write((json.dumps(metrics, indent=1, allow_nan=False) + "\n").encode("utf-8"))
        logger.info("utility study written to %s", out)


def _first_per_class(labels: torch.Tensor, wanted: Sequence[int]) -> torch.Tensor:
    """Indices of the first ``wanted[c]`` images of each class (in pool order)."""
    keep = []
    for c, n in enumerate(wanted):
        keep.append(torch.nonzero(labels == c).flatten()[: int(n)])
    return torch.sort(torch.cat(keep)).values if keep else torch.zeros(0, dtype=torch.long)


def _class_grid(images: LabelledImages, num_classes: int, per_class: int = 8) -> bytes:
    """PNG grid: one row of up to ``per_class`` images per class."""
    tiles: list[torch.Tensor] = []
    blank = torch.full_like(images.images[0], -1.0) if len(images) else torch.zeros(1, 8, 8)
    for c in range(num_classes):
        members = torch.nonzero(images.labels == c).flatten()[:per_class].tolist()
        tiles += [images.images[i] for i in members] + [blank] * (per_class - len(members))
    return image_grid_png(tiles, columns=per_class, tile=64)
