"""A shuffling data loader whose epoch can be resumed in its middle with the same batches in the same order.

Ignite's ``Engine`` resumed at iteration ``k`` of an epoch draws a new iterator and takes the remaining
``epoch_length - k`` batches from its start: a new permutation, so the resumed run sees other batches than an
uninterrupted one (StyleGAN2 weights differed by about 1e-2 after a ``kill -9`` in the middle of an epoch).
The permutation and the workers' seeds are drawn from the torch RNG when the iterator is made, so keeping
the RNG state of that moment in the checkpoint lets a resume draw the same permutation and skip ``k`` batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch


class EpochReplayLoader:
    """Wrap a data loader; ``resume_at(k)`` makes the next iterator replay the saved epoch from batch ``k``.

    Args:
        loader: the data loader (any iterable with ``len``) whose order comes from the torch RNG.
    """

    def __init__(self, loader: Iterable) -> None:
        self.loader = loader
        self.epoch_rng: torch.Tensor | None = None
        self._skip = 0

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def resume_at(self, batch: int) -> None:
        """Make the next iterator continue the saved epoch at ``batch`` (0: a new epoch)."""
        self._skip = int(batch)

    def __iter__(self) -> Iterator[Any]:
        if self._skip and self.epoch_rng is not None:
            now = torch.get_rng_state()
            torch.set_rng_state(self.epoch_rng)
            it = iter(self.loader)
            for _ in range(self._skip):  # cached datasets make the skipped batches cheap
                next(it)
            torch.set_rng_state(now)
        else:
            self.epoch_rng = torch.get_rng_state()
            it = iter(self.loader)
        self._skip = 0
        return it

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_rng": self.epoch_rng if self.epoch_rng is not None else torch.empty(0, dtype=torch.uint8)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        rng = state["epoch_rng"]
        self.epoch_rng = rng if rng.numel() else None
