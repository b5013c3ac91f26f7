"""The seeded batch source: batch ``k`` of a run is a function of ``(seed, k, rank)``, never of what ran before.

``TrainingPhase`` takes either a data loader (its order from torch's RNG, replayed on resume) or one of these.
A step then receives ``step(engine, batch)`` where ``batch`` holds the indexed tensors and the step's own random
generator (``batch["generator"]``), so every random draw of the step (noise, timesteps, label dropout,
degradations) is reproducible from the iteration number alone and a resumed run repeats an uninterrupted one
exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from monai_synth.seeding import batch_indices, iterations_per_epoch, step_generator

__all__ = ["SeededBatches"]


class SeededBatches:
    """Batches of ``tensors`` (indexed together) with the generator of each step, as functions of the iteration.

    Args:
        tensors: named tensors of equal length N (e.g. ``{"image": images, "label": labels}``), on any device.
        batch_size: per-rank batch size.
        seed: run seed.
        device: where the batch and the generator live.
        rank / world_size: for distributed runs (each rank gets its own share of every global batch).

    ``batches(iteration)`` (0-based) returns ``{name: tensor[indices] on device, ..., "generator": generator}``;
    ``len(batches)`` is the number of full global batches per epoch.
    """

    def __init__(
        self,
        tensors: Mapping[str, torch.Tensor],
        batch_size: int,
        seed: int,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        lengths = {name: int(t.shape[0]) for name, t in tensors.items()}
        if not lengths or len(set(lengths.values())) != 1:
            raise ValueError(f"a batch source needs tensors of one common length, got {lengths}")
        if "generator" in lengths:
            raise ValueError("'generator' is the name of the step's random generator in a batch, not of a tensor")
        self.tensors = dict(tensors)
        self.num_items = next(iter(lengths.values()))
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.device = torch.device(device)
        self.rank, self.world_size = int(rank), int(world_size)

    def __len__(self) -> int:
        return iterations_per_epoch(self.num_items, self.batch_size, self.world_size)

    def __call__(self, iteration: int) -> dict[str, Any]:
        idx = batch_indices(iteration, self.num_items, self.batch_size, self.seed, self.rank, self.world_size)
        generator = step_generator(self.seed, iteration, self.rank, self.device)
        batch: dict[str, Any] = {k: t[idx].to(self.device, non_blocking=True) for k, t in self.tensors.items()}
        batch["generator"] = generator
        return batch
