"""The one supervised training loop the downstream networks share, and batched prediction.

Batches are a pure function of the iteration (:mod:`monai_synth.seeding`), so a run is deterministic
for a seed; AdamW with a one-cycle learning-rate schedule.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from monai_synth.seeding import batch_indices, iterations_per_epoch, step_generator

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def fit_supervised(
    net: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str | torch.device = "cpu",
    augment: Augment | None = None,
) -> nn.Module:
    """Train ``net`` (already on ``device``) on ``images`` / ``targets``; return it in eval mode.

    Args:
        net: the network to train.
        images: ``(N, C, H, W)`` inputs; targets: per-image targets indexed like ``images``.
        loss_fn: ``loss_fn(net(x), y) -> scalar``.
        epochs: passes over the data (the incomplete last batch of each is dropped; at least one step).
        batch_size: images per step.
        lr: peak learning rate.
        seed: seed of the batch order and of ``augment``'s generator.
        device: where the batches go.
        augment: optional ``augment(x, generator) -> x`` applied to each batch.
    """
    device = torch.device(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    total = max(1, epochs * iterations_per_epoch(len(images), batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    net.train()
    for it in range(total):
        idx = batch_indices(it, len(images), batch_size, seed)
        x = images[idx] if augment is None else augment(images[idx], step_generator(seed, it))
        loss = loss_fn(net(x.to(device)), targets[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def predict_batched(net: nn.Module, images: torch.Tensor, batch_size: int = 256, keepdim: bool = False) -> torch.Tensor:
    """Arg-max over the class dimension of ``net``'s output, batch by batch, on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    out = [net(images[i : i + batch_size].to(device)).argmax(1, keepdim=keepdim).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)
