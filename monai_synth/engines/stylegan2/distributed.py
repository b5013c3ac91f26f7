"""Data-parallel StyleGAN2-ADA: one process per GPU (torchrun), gradients averaged over the processes.

The StyleGAN2 step calls several entry points of one network (``map``, ``mix_styles``, ``synthesis``) and takes
double-backward gradients for R1, which ``DistributedDataParallel`` does not follow (its gradient hooks are armed
only by its own ``forward``). So, like the StyleGAN2-ADA reference training loop, every process computes its
gradients on its own batch and the step averages them with one ``all_reduce`` before each optimiser step; the
networks start from rank 0's weights, so they stay identical on every rank. All helpers are no-ops in a single
process.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    """Number of training processes (1 without ``torch.distributed``)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without ``torch.distributed``)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


@torch.no_grad()
def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy the parameters and buffers of rank ``src`` into ``module`` on every rank."""
    if world_size() == 1:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=src)


@torch.no_grad()
def average_gradients(module: nn.Module) -> None:
    """Replace each gradient of ``module`` by its mean over the processes.

    Every rank runs the same code path, so the same parameters have gradients everywhere; those without one
    (unused in this iteration) are left alone, as a single process would.
    """
    n = world_size()
    if n == 1:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= n
    offset = 0
    for p in params:
        count = p.numel()
        p.grad = flat[offset : offset + count].view_as(p).clone()
        offset += count


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor of equal shape on every rank along dim 0 (e.g. D(real) logits for ADA's r_t)."""
    if world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.detach().contiguous())
    return torch.cat(parts)
