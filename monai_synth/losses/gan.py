"""Adversarial losses: binary cross-entropy on logits (pix2pix, SRGAN), and StyleGAN2(-ADA)'s losses and regularisers.

Medfusion's PatchGAN loss (least squares, several scales) is part of ``losses.autoencoder``.

- Non-saturating logistic loss: Goodfellow et al., "Generative Adversarial Nets" (NeurIPS 2014), section 3.
- R1 gradient penalty on real data: Mescheder et al., "Which Training Methods for GANs do actually Converge?"
  (ICML 2018), eq. 9; applied lazily (every k steps, scaled by k) as in StyleGAN2, section 3.1.
- Path length regularisation: Karras et al., "Analyzing and Improving the Image Quality of StyleGAN"
  (CVPR 2020), section 3.2, eq. 4.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def generator_logistic_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean softplus(-D(G(z)))."""
    return F.softplus(-fake_logits.float()).mean()


def discriminator_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator logistic loss: mean softplus(D(G(z))) + mean softplus(-D(x))."""
    return F.softplus(fake_logits.float()).mean() + F.softplus(-real_logits.float()).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 = E ||grad_x D(x)||^2 over real images; differentiable (``create_graph``), multiply by gamma / 2.

    Args:
        real_logits: D's output on ``real_images`` (computed with ``real_images.requires_grad_()``).
        real_images: the real batch the gradient is taken with respect to (before any augmentation).
    """
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_images, create_graph=True)
    return grad.float().square().sum(dim=tuple(range(1, grad.ndim))).mean()


class PathLengthPenalty(nn.Module):
    """Path length regulariser: (|J_w^T y| - a)^2 with y ~ N(0, I) / sqrt(H W) and a a running mean.

    Args:
        decay: update rate of the running mean ``a`` of path lengths (0.01 in StyleGAN2).
    """

    def __init__(self, decay: float = 0.01) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("mean_length", torch.zeros(()))

    def forward(self, images: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        """Penalty for images (B, C, H, W) generated from ws (B, num_ws, w_dim) (ws must require grad)."""
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()
        with torch.no_grad():
            self.mean_length.lerp_(lengths.mean(), self.decay)
        return (lengths - self.mean_length).square().mean()


def bce_logits(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of logits against all-real or all-fake targets (the GAN loss of pix2pix and SRGAN)."""
    logits = logits.float()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
