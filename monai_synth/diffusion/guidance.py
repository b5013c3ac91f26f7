"""Classifier-free guidance (Ho & Salimans 2022) as a denoiser wrapper."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["classifier_free_guidance"]

ConditionalModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _null_labels(labels: torch.Tensor, null_label: int | torch.Tensor) -> torch.Tensor:
    """Unconditional labels shaped like ``labels``."""
    if isinstance(null_label, torch.Tensor):
        return null_label.to(device=labels.device, dtype=labels.dtype).expand_as(labels)
    return torch.full_like(labels, null_label)


def classifier_free_guidance(
    model: ConditionalModel, labels: torch.Tensor, scale: float, null_label: int | torch.Tensor
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Wrap a conditional model ``model(x, t, labels) -> eps`` into a guided ``denoiser(x, t) -> eps``.

    ``eps = eps_u + scale * (eps_c - eps_u)``; the same for a velocity model (rectified flow), whose velocity is
    affine in eps at fixed ``x_t``, so guiding either is the same guidance. For ``scale`` other than 0 and 1 both branches run in ONE
    forward pass on the concatenated batch ``[x, x]`` with labels ``[labels, null]``. ``scale = 1`` runs the
    conditional branch only and ``scale = 0`` the unconditional branch only.

    Args:
        model: conditional noise predictor taking ``(x, t, labels)``.
        labels: condition per sample, first dimension = batch size (e.g. LongTensor ``(B,)``).
        scale: guidance scale ``w`` (1 = plain conditional sampling; Medfusion's convention).
        null_label: the "no condition" label used in training (a number, or a tensor broadcastable to a label).

    Returns:
        A denoiser usable by every sampler in :mod:`monai_synth.diffusion.samplers`.
    """
    null = _null_labels(labels, null_label)

    def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != labels.shape[0]:
            raise ValueError(f"labels have batch size {labels.shape[0]} but x has {x.shape[0]}.")
        if scale == 1:
            return model(x, t, labels)
        if scale == 0:
            return model(x, t, null)
        eps_c, eps_u = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null])).chunk(2)
        return eps_u + scale * (eps_c - eps_u)

    return denoiser
