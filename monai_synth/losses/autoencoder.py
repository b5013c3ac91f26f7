"""Losses of Medfusion's autoencoder phase: L1 + SSIM + KL + deep supervision + PatchGAN adversarial."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.losses import PatchAdversarialLoss, SSIMLoss


def kl_to_standard_normal(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)), summed over latent elements and averaged over the batch."""
    var = sigma.pow(2).clamp_min(1e-12)
    kl = 0.5 * (mu.pow(2) + var - var.log() - 1.0)
    return kl.flatten(1).sum(1).mean()


class AutoencoderReconstructionLoss:
    """Weighted sum of the autoencoder's terms; returns the total and its parts for logging.

    Args:
        ssim_weight: weight of ``1 - SSIM`` (images in [-1, 1], data range 2).
        kl_weight: weight of the KL term (Medfusion: 1e-6).
        deep_supervision_weight: weight of the L1 loss of the half-resolution output.
        ssim_window: SSIM Gaussian window; 7 suits images of 32-64 px, 11 larger ones.
    """

    def __init__(
        self, ssim_weight: float = 1.0, kl_weight: float = 1e-6, deep_supervision_weight: float = 0.5, ssim_window: int = 7
    ) -> None:
        self.ssim_weight = ssim_weight
        self.kl_weight = kl_weight
        self.ds_weight = deep_supervision_weight
        self.ssim = SSIMLoss(spatial_dims=2, data_range=2.0, win_size=ssim_window, kernel_sigma=1.5)

    def __call__(
        self, x: torch.Tensor, recon: torch.Tensor, aux: torch.Tensor | None, mu: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        l1 = F.l1_loss(recon, x)
        ssim = self.ssim(recon.float(), x.float())
        kl = kl_to_standard_normal(mu.float(), sigma.float())
        total = l1 + self.ssim_weight * ssim + self.kl_weight * kl
        parts = {"l1": l1.item(), "ssim_loss": ssim.item(), "kl": kl.item()}
        if aux is not None and self.ds_weight > 0:
            ds = F.l1_loss(aux, F.avg_pool2d(x, 2))
            total = total + self.ds_weight * ds
            parts["deep_supervision_l1"] = ds.item()
        return total, parts


class PatchGANLoss:
    """Least-squares PatchGAN losses (MONAI's ``PatchAdversarialLoss``) for generator and discriminator."""

    def __init__(self, criterion: str = "least_squares") -> None:
        self.adv = PatchAdversarialLoss(criterion=criterion)

    def generator(self, fake_logits: list[torch.Tensor]) -> torch.Tensor:
        """Loss pushing the discriminator's output on reconstructions towards 'real'."""
        return self.adv(fake_logits, target_is_real=True, for_discriminator=False)

    def discriminator(self, real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
        """Discriminator loss on real images and (detached) reconstructions."""
        real = self.adv(real_logits, target_is_real=True, for_discriminator=True)
        fake = self.adv(fake_logits, target_is_real=False, for_discriminator=True)
        return 0.5 * (real + fake)
