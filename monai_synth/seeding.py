"""Deterministic, resumable batch order and randomness, as functions of the iteration number.

Every batch and every random draw of a training step is a function of ``(seed, iteration, rank)``. A run
resumed from a checkpoint at iteration ``k`` therefore draws exactly what an uninterrupted run draws from
``k`` on, whatever the data loader or the process did before it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
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


def noise_from_seeds(seeds: Sequence[int], shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Starting noise, one draw per image from its own seed (an image does not depend on its batch)."""
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds]).to(device)


def step_noise_generators(indices: list[int], seed: int) -> list[torch.Generator]:
    """One CPU generator per image for the per-step noise of stochastic samplers (DDPM, DDIM with eta > 0).

    Seeds are mixed by NumPy's ``SeedSequence`` from ``(seed, index)``: torch's CPU generator keeps only the low
    32 bits of a seed, so an offset such as ``2**32 + seed + index`` would replay the starting noise.
    """
    return [
        torch.Generator().manual_seed(int(np.random.SeedSequence([seed, i, 0x5EED]).generate_state(1)[0]))
        for i in indices
    ]
