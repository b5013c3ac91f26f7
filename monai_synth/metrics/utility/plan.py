"""The experiment plan of a utility study: settings, cells (setting x training seed) and the images of each.

A setting is one training set for one network:

- ``real_fraction`` f: the share of the real training split used (a class-stratified subset);
- ``synthetic_multiple`` k: synthetic images added, as a multiple of the real images used, with the same class
  proportions. TRTR (train on real, test on real) is ``f = 1, k = 0``; the augmentation curve is every
  ``f`` with every ``k``; TSTR (train on synthetic, test on real) is ``f = 0`` with ``k`` times the size of the
  whole real training split.

Every cell of the plan is tested on the same real held-out split. Which real and synthetic images a cell uses
depends on its seed only, not on ``k``: at one seed every ``k`` adds synthetic images to the same real subset,
and a larger ``k`` adds to the images of a smaller one (nested), so the settings of a row of the curve differ
in the synthetic images alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Cell", "Setting", "class_counts", "plan_cells", "plan_settings", "real_subset", "synthetic_subset", "synthetic_wanted"]


@dataclass(frozen=True)
class Setting:
    """One training set for one network (see the module docstring)."""

    network: str
    real_fraction: float
    synthetic_multiple: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ValueError(f"real_fraction must be in [0, 1], got {self.real_fraction}")
        if self.synthetic_multiple < 0:
            raise ValueError(f"synthetic_multiple must be >= 0, got {self.synthetic_multiple}")
        if self.real_fraction == 0 and self.synthetic_multiple == 0:
            raise ValueError("a setting without real and without synthetic images trains on nothing")

    @property
    def kind(self) -> str:
        """``"trtr"``, ``"tstr"``, ``"real_only"`` (a real subset) or ``"augmented"``."""
        if self.real_fraction == 0:
            return "tstr"
        if self.synthetic_multiple == 0:
            return "trtr" if self.real_fraction == 1 else "real_only"
        return "augmented"

    @property
    def key(self) -> str:
        """Stable identifier, e.g. ``vgg11/real0.25/synth0.5``."""
        return f"{self.network}/real{self.real_fraction:g}/synth{self.synthetic_multiple:g}"

    @property
    def label(self) -> str:
        """What the report calls it, e.g. ``25% real + 0.5x synthetic``."""
        if self.kind == "tstr":
            return f"synthetic only ({self.synthetic_multiple:g}x the real training split)"
        real = f"{100 * self.real_fraction:g}% real"
        return real if self.synthetic_multiple == 0 else f"{real} + {self.synthetic_multiple:g}x synthetic"

    def to_dict(self) -> dict:
        return {**asdict(self), "kind": self.kind, "key": self.key, "label": self.label}


@dataclass(frozen=True)
class Cell:
    """One training run: a setting and a training seed."""

    setting: Setting
    seed: int

    @property
    def key(self) -> str:
        return f"{self.setting.key}/seed{self.seed}"


def plan_settings(
    networks: Sequence[str],
    real_fractions: Sequence[float],
    synthetic_multiples: Sequence[float],
    tstr_multiple: float | None = 1.0,
) -> list[Setting]:
    """Every ``(network, f, k)`` of the augmentation grid, plus TSTR per network (``tstr_multiple`` None: none).

    The grid always holds TRTR (``f = 1, k = 0``), the reference of the TSTR comparison, and ``k = 0`` for
    every ``f``, the reference each augmented setting is compared with.
    """
    if not networks:
        raise ValueError("no networks given")
    fractions = sorted({float(f) for f in real_fractions} | {1.0})
    multiples = sorted({float(k) for k in synthetic_multiples} | {0.0})
    if any(f <= 0 for f in fractions):
        raise ValueError(f"real_fractions must be in (0, 1], got {list(real_fractions)}")
    settings = []
    for network in networks:
        settings += [Setting(network, f, k) for f in fractions for k in multiples]
        if tstr_multiple:
            settings.append(Setting(network, 0.0, float(tstr_multiple)))
    return settings


def plan_cells(settings: Sequence[Setting], seeds: Sequence[int]) -> list[Cell]:
    """Every ``(setting, seed)``, seeds inner, so that the first finished cells cover the grid once."""
    if not seeds:
        raise ValueError("no training seeds given")
    return [Cell(s, int(seed)) for seed in seeds for s in settings]


def _rng(seed: int, tag: int, klass: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), tag, int(klass)])


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per class: ``(num_classes,)``."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)[:num_classes]


def real_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a class-stratified share ``fraction`` of the real training images (at least one per class).

    Per class ``round(fraction * n_c)`` images, drawn at random for ``seed``; ``fraction`` 1 keeps all.
    """
    labels = np.asarray(labels)
    if fraction >= 1.0:
        return np.arange(labels.size)
    picked = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        count = max(1, int(round(fraction * members.size)))
        picked.append(np.sort(_rng(seed, 1, c).permutation(members)[:count]))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def synthetic_subset(pool_labels: np.ndarray, wanted: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``wanted[c]`` synthetic images of each class c, drawn for ``seed`` (nested in the count).

    Returns:
        ``(indices, shortfall)``: the chosen indices, and per class how many were wanted but not available.
    """
    pool_labels = np.asarray(pool_labels)
    picked, short = [], np.zeros(len(wanted), dtype=np.int64)
    for c, count in enumerate(np.asarray(wanted, dtype=np.int64)):
        members = np.flatnonzero(pool_labels == c)
        short[c] = max(0, int(count) - members.size)
        picked.append(_rng(seed, 2, c).permutation(members)[: int(count)])
    indices = np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
    return indices, short


def synthetic_wanted(real_counts: np.ndarray, multiple: float) -> np.ndarray:
    """Synthetic images per class for ``multiple`` times the real images per class (rounded up)."""
    return np.array([math.ceil(multiple * int(n) - 1e-9) for n in real_counts], dtype=np.int64)
