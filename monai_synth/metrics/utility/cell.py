"""Train and test the classifier of one cell (a setting and a seed) of a utility study.

The cell's training set is a class-stratified share of the real training images plus synthetic images drawn
from the pool (:mod:`.plan`); the classifier is built and trained for the study's step budget
(:mod:`.classifiers`), then gives its class probabilities on the real held-out images. TRTR cells also label
every synthetic image of the pool, which is what conditional fidelity scores (:mod:`.conditional`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from monai_synth.metrics.utility.classifiers import build_network, predict_probabilities, train_network
from monai_synth.metrics.utility.inputs import LabelledImages
from monai_synth.metrics.utility.plan import Cell, class_counts, real_subset, synthetic_subset, synthetic_wanted
from monai_synth.metrics.utility.scores import score_rows

__all__ = ["StudyData", "TrainingSettings", "cell_training_set", "run_cell"]

PROBABILITY_DIGITS = 6
"""Stored probabilities are rounded to this many decimals; every figure is computed from the stored values, so a
resumed study reports exactly what an uninterrupted one does."""


@dataclass
class StudyData:
    """The images of a study: real training and held-out splits, and the synthetic pool."""

    train: LabelledImages
    test: LabelledImages
    synthetic: LabelledImages
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class TrainingSettings:
    """The budget and settings every cell trains with."""

    steps: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    vgg_width: float = 0.125
    augment: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell_training_set(cell: Cell, data: StudyData) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Images and labels a cell trains on, and their counts (``n_real``, ``n_synthetic``, ``synthetic_shortfall``)."""
    setting, n_cls = cell.setting, data.num_classes
    train_labels = data.train.labels.numpy()
    if setting.real_fraction > 0:
        real_idx = real_subset(train_labels, setting.real_fraction, cell.seed)
        reference = class_counts(train_labels[real_idx], n_cls)
    else:
        real_idx = np.zeros(0, dtype=np.int64)
        reference = class_counts(train_labels, n_cls)  # TSTR: k times the whole real training split
    wanted = synthetic_wanted(reference, setting.synthetic_multiple)
    synth_idx, short = synthetic_subset(data.synthetic.labels.numpy(), wanted, cell.seed)
    ri, si = torch.as_tensor(real_idx, dtype=torch.long), torch.as_tensor(synth_idx, dtype=torch.long)
    images = torch.cat([data.train.images[ri], data.synthetic.images[si]])
    labels = torch.cat([data.train.labels[ri], data.synthetic.labels[si]])
    counts = {"n_real": int(ri.numel()), "n_synthetic": int(si.numel()),
              "synthetic_shortfall": [int(v) for v in short]}
    return images, labels, counts


def run_cell(
    cell: Cell,
    data: StudyData,
    training: TrainingSettings,
    device: str | torch.device,
    fingerprint: str,
) -> dict[str, Any]:
    """Train the cell's classifier and test it on the real held-out split.

    Returns:
        The cell result: ``key``, ``fingerprint``, ``setting``, ``seed``, the counts of
        :func:`cell_training_set`, ``seconds``, ``test_probabilities`` (``(n_test, C)``, rounded), ``scores``
        (this seed's point values) and, for TRTR cells, ``synthetic_predictions`` (the class assigned to each
        pool image).
    """
    start = time.perf_counter()
    images, labels, counts = cell_training_set(cell, data)
    if counts["n_real"] + counts["n_synthetic"] == 0:
        raise ValueError(f"cell {cell.key}: no training images (the synthetic pool holds none of the wanted classes)")
    device = torch.device(device)
    torch.manual_seed(cell.seed)
    net = build_network(cell.setting.network, images.shape[1], images.shape[-1], data.num_classes, training.vgg_width)
    net = train_network(net.to(device), images.to(device), labels.to(device), training.steps, training.batch_size,
                        training.lr, cell.seed, training.augment)  # fmt: skip
    probs = np.round(predict_probabilities(net, data.test.images), PROBABILITY_DIGITS)
    test_labels = data.test.labels.numpy()
    point = score_rows(test_labels, probs, np.arange(test_labels.size)[None])
    result: dict[str, Any] = {
        "key": cell.key,
        "fingerprint": fingerprint,
        "setting": cell.setting.to_dict(),
        "seed": cell.seed,
        **counts,
        "test_probabilities": probs.tolist(),
        "scores": {m: float(v[0]) for m, v in point.items()},
    }
    if cell.setting.kind == "trtr":
        result["synthetic_predictions"] = predict_probabilities(net, data.synthetic.images).argmax(1).tolist()
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result
