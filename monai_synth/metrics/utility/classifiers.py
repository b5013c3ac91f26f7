"""The classifiers of a utility study: build one by name, train it for a fixed number of steps, predict
class probabilities.

Networks:

- ``"vgg11"``: the VGG11 with batch norm of the Med-cDiff study (:class:`~monai_synth.downstream.vgg.VGG11Classifier`);
  ``width`` 1.0 is the original 64..512 channels (GPU), the default 1/8 fits a CPU;
- ``"monai_classifier"``: MONAI's residual ``Classifier`` (four stride-2 levels of 16..128 channels), the
  network :func:`monai_synth.downstream.classification.build_classifier` builds.

Every setting trains for the same number of optimisation steps (the budget), whatever the size of its training
set: more images then mean more distinct images per step, not more steps. AdamW with a one-cycle schedule;
batches are a pure function of ``(seed, step)`` (:mod:`monai_synth.seeding`), initial weights of ``seed``, and
each batch is shifted by up to 1/16 of the side (reflection padding), so a run is deterministic for a seed on
one device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from monai_synth.downstream.classification import build_classifier
from monai_synth.downstream.vgg import VGG11Classifier
from monai_synth.seeding import batch_indices, step_generator

__all__ = ["NETWORKS", "build_network", "predict_probabilities", "random_shift", "train_network"]

NETWORKS: tuple[str, ...] = ("vgg11", "monai_classifier")


def build_network(name: str, channels: int, image_size: int, num_classes: int, width: float = 0.125) -> nn.Module:
    """A classifier by name (see the module docstring); ``width`` applies to ``vgg11``."""
    if name == "vgg11":
        return VGG11Classifier(channels, num_classes, image_size, width=width)
    if name == "monai_classifier":
        return build_classifier(image_size, channels, num_classes)
    raise ValueError(f"unknown network {name!r}; choose one of {NETWORKS}")


def random_shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift a batch by random integers of up to 1/16 of the side (reflection padding, then a crop)."""
    pad = max(1, x.shape[-1] // 16)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
    return padded[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]


def train_network(
    net: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    augment: bool = True,
) -> nn.Module:
    """Train ``net`` (already on its device) for ``steps`` steps with cross-entropy; return it in eval mode.

    Args:
        net: the classifier.
        images: ``(N, C, H, W)`` in [-1, 1], on any device (batches are moved to the network's).
        labels: ``(N,)`` class indices.
        steps: optimisation steps (the training budget).
        batch_size: images per step (lowered to ``N`` for smaller sets).
        lr: peak learning rate.
        seed: seed of the batch order and of the shifts.
        augment: random shifts of each batch.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if len(images) == 0:
        raise ValueError("no training images")
    device = next(net.parameters()).device
    batch_size = min(int(batch_size), len(images))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=int(steps))
    net.train()
    for step in range(int(steps)):
        idx = batch_indices(step, len(images), batch_size, seed)
        x = images[idx.to(images.device)]
        if augment:
            x = random_shift(x, step_generator(seed, step))
        loss = F.cross_entropy(net(x.to(device)), labels[idx.to(labels.device)].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def predict_probabilities(net: nn.Module, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Softmax class probabilities of each image: ``(N, num_classes)`` float64 on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    out = [F.softmax(net(images[i : i + batch_size].to(device)).float(), dim=1).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out).double().numpy() if out else np.zeros((0, 0))
