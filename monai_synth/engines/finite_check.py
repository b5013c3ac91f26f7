"""Stop a training phase at the first non-finite loss, gradient norm or weight.

A NaN that reaches the weights spreads to every tensor within a few steps and is only noticed at sampling
time. Checking the step's logged values and the trained weights after every iteration, before the
checkpoint handler runs, keeps the last good checkpoint on disk and ends the run with an error naming the
iteration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn


class NonFiniteTrainingError(RuntimeError):
    """A loss, gradient norm or weight became NaN or infinite during training."""


def non_finite_values(output: Mapping[str, float]) -> dict[str, float]:
    """The logged values of one step that are NaN or infinite."""
    bad = {}
    for key, value in output.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(v):
            bad[key] = v
    return bad


@torch.no_grad()
def non_finite_modules(modules: Mapping[str, nn.Module]) -> list[str]:
    """Names of the networks with a NaN/Inf weight (one device sync per network)."""
    bad = []
    for name, module in modules.items():
        params = [p for p in _parameters(module) if p.is_floating_point()]
        if params and not bool(torch.stack([p.detach().abs().amax().float() for p in params]).isfinite().all()):
            bad.append(name)
    return bad


def _parameters(module: object) -> Iterable[torch.Tensor]:
    return module.parameters() if isinstance(module, nn.Module) else []


def check_finite(phase: str, iteration: int, output: Mapping[str, float], modules: Mapping[str, nn.Module],
                 last_checkpoint: Callable[[], object | None]) -> None:
    """Raise ``NonFiniteTrainingError`` naming the phase, iteration and values when anything is not finite.

    ``last_checkpoint`` is called only to word the error (the latest checkpoint file, or None).
    """
    values = non_finite_values(output)
    weights = non_finite_modules(modules) if not values else []
    if not values and not weights:
        return
    what = ", ".join(f"{k}={v}" for k, v in values.items()) or "weights of " + ", ".join(weights)
    last = last_checkpoint()
    kept = f"the last good checkpoint {last} is kept" if last else "no checkpoint was written yet"
    raise NonFiniteTrainingError(
        f"{phase}: non-finite {what} at iteration {iteration}; training stopped, {kept}. "
        "Check the data for NaN/Inf pixels, or lower the learning rate."
    )
