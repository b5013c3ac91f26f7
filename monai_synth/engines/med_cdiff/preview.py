"""Med-cDiff previews while training: degraded inputs, their restorations and the clean images, as one grid.

``restoration_preview`` gives a ``PhasePreview`` that ``TrainingPhase`` refreshes every ``preview_every`` epochs
(``<model>/<model>_samples.png``, ``<model>/<model>_loss_curves.png`` and TensorBoard images). The conditions are
fixed (the first training images, degraded with the first evaluation setting and seeds ``seed + i``), so
successive previews show the same cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from monai_synth.engines.med_cdiff.restorer import Restorer
from monai_synth.engines.precision import autocast_for
from monai_synth.engines.progress import PhasePreview, tile
from monai_synth.transforms.degradation import Degradation

#: ``restore(condition, seeds) -> restored`` in [-1, 1], as ``restorer.Restorer``
RestoreFn = Callable[[torch.Tensor, Sequence[int]], torch.Tensor]


def network_restore(net: nn.Module, device: torch.device | str = "cpu", precision: str = "fp32") -> RestoreFn:
    """``restore`` of a network trained in this phase (pix2pix / SRGAN generator): eval mode for the call only."""

    @torch.no_grad()
    def restore(condition: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        was_training = net.training
        net.eval()
        try:
            with autocast_for(torch.device(device), precision):
                return net(condition.to(device)).float().clamp(-1.0, 1.0)
        finally:
            net.train(was_training)

    return restore


def diffusion_restore(net: nn.Module, settings: dict, schedule, sampler: str = "ddim", steps: int = 10,
                      device: torch.device | str = "cpu", precision: str = "fp32", eta: float = 0.0,
                      strength: float = 1.0) -> RestoreFn:  # fmt: skip
    """``restore`` by sampling the conditional diffusion model ``net`` (the EMA UNet, or the trained one).

    A ``Restorer`` is built for each call and the network's training mode and ``requires_grad`` flags are put
    back afterwards, so the preview can sample from the network being trained.

    Args:
        net: the UNet taking ``cat([x_t, condition])``.
        settings: what ``final.pt`` holds besides the weights (``model``, ``task``, ``degradation``,
            ``image_size``, ``channels``: ``MedCDiffWorkflow.checkpoint_settings(data)``).
        schedule: the training noise schedule (on the device).
        sampler / steps: a sampler of ``monai_synth.diffusion`` and its number of steps (few: it is a preview).
        device / precision: where and how to run the network.
        eta / strength: as the bundle's ``sample`` settings (stochasticity; start from the noised condition).
    """
    def restore(condition: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        was_training, flags = net.training, [p.requires_grad for p in net.parameters()]
        try:
            restorer = Restorer(net, settings, "", schedule, sampler, steps, eta=eta, device=device,
                                precision=precision, strength=strength)
            return restorer(condition, seeds)
        finally:
            net.train(was_training)
            for p, flag in zip(net.parameters(), flags):
                p.requires_grad_(flag)

    return restore


def restoration_preview(folder: str | Path, name: str, restore: RestoreFn, images: torch.Tensor,
                        degradation: Degradation, count: int = 4, seed: int = 0) -> PhasePreview:  # fmt: skip
    """A ``PhasePreview`` whose grid has a column per case: degraded input, restoration, clean image.

    Args:
        folder: the phase folder (``output_dir/<model>``).
        name: the phase name (``<name>_samples.png``).
        restore: ``restore(condition, seeds)``: :func:`diffusion_restore` for diffusion, :func:`network_restore`
            of the generator for pix2pix / SRGAN.
        images: training images (N, C, H, W) in [-1, 1]; the first ``count`` are shown.
        degradation: the task's degradation.
        count: cases shown.
        seed: seeds of the degradations and of the sampling noise (``seed + i`` for case i).
    """
    clean = images[: max(1, int(count))].detach().float().cpu()
    seeds = [int(seed) + i for i in range(clean.shape[0])]
    condition = degradation.fixed(clean, degradation.settings()[0], seeds)

    def grid() -> torch.Tensor:
        restored = restore(condition, seeds).detach().float().cpu()
        degraded = degradation.image_part(condition).float().clamp(-1.0, 1.0)
        return tile(torch.cat([degraded, restored, clean]), columns=clean.shape[0])

    return PhasePreview(folder, name, grid)
