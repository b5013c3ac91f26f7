"""Exponential moving average of a network's weights, as a state-dict-able object."""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightEMA:
    """Keep ``ema = decay * ema + (1 - decay) * weights`` after each optimiser step.

    The averaged copy is what diffusion and GAN samplers use. Buffers are copied, not averaged.
    ``warmup`` ramps the decay as ``min(decay, (1 + n) / (10 + n))`` so early averages are not dominated by
    the random initialisation.

    Args:
        model: the trained network (a DDP wrapper is unwrapped).
        decay: final EMA decay per step.
        warmup: use the ramped decay.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        self.model = getattr(model, "module", model)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0

    @torch.no_grad()
    def update(self) -> None:
        """Blend the current weights into the average."""
        self.num_updates += 1
        d = self.decay
        if self.warmup:
            d = min(d, (1 + self.num_updates) / (10 + self.num_updates))
        ema_p = list(self.ema.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in self.model.parameters()], 1.0 - d)
        for b_ema, b in zip(self.ema.buffers(), self.model.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return {"ema": self.ema.state_dict(), "num_updates": self.num_updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.ema.load_state_dict(state["ema"])
        self.num_updates = int(state["num_updates"])
        self.decay = float(state["decay"])
