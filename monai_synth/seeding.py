"""Deterministic, resumable batch order and randomness, as functions of the iteration number.

Every batch and every random draw of a training step is a function of ``(seed, iteration, rank)``. A run
resumed from a checkpoint at iteration ``k`` therefore draws exactly what an uninterrupted run draws from
``k`` on, whatever the data loader or the process did before it stopped.
"""

from __future__ import annotations

import torch


def iterations_per_epoch(num_items: int, batch_size: int, world_size: int = 1) -> int:
    """Full batches per epoch across all ranks (the incomplete last batch is dropped)."""
    n = num_items // (batch_size * world_size)
    if n < 1:
        raise ValueError(
            f"{num_items} training images are fewer than one batch ({batch_size} x {world_size} ranks): "
            "lower batch_size or add data."
        )
    return n


def batch_indices(
    iteration: int, num_items: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
) -> torch.Tensor:
    """Indices of the items of 0-based ``iteration`` for ``rank``: a fresh permutation per epoch."""
    per_epoch = iterations_per_epoch(num_items, batch_size, world_size)
    epoch, k = divmod(iteration, per_epoch)
    perm = torch.randperm(num_items, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    start = (k * world_size + rank) * batch_size
    return perm[start : start + batch_size]


def step_generator(seed: int, iteration: int, rank: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """The random generator of one training step of one rank."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed((seed * 2_147_483_647 + iteration * 65_537 + rank * 8_191 + 17) % (2**63 - 1))
    return g
