"""Medfusion's image autoencoder: MONAI's AutoencoderKL plus a deep-supervision head.

Medfusion (Mueller-Franzes et al., "Diffusion Probabilistic Models beat GAN on Medical 2D Images", supplement)
supervises the first lower decoder resolution as well as the output. MONAI's ``AutoencoderKL`` has no such
output, so this module runs the decoder blocks itself and taps the features that enter the last upsampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import AutoencoderKL
from torch import nn


class LatentImageAutoencoder(nn.Module):
    """Variational autoencoder with a deep-supervision output at half resolution.

    Args:
        in_channels: image channels.
        latent_channels: channels of the latent space (Medfusion: 8).
        channels: feature widths per level; ``len(channels) - 1`` halvings give the compression factor.
        num_res_blocks: residual blocks per level.
        norm_num_groups: GroupNorm groups (must divide every width).
        attention: add non-local attention at the lowest resolution (slow on CPU).
        deep_supervision: also return a reconstruction at half resolution from the decoder.
    """

    def __init__(
        self,
        in_channels: int = 1,
        latent_channels: int = 8,
        channels: Sequence[int] = (32, 64, 128),
        num_res_blocks: int = 1,
        norm_num_groups: int = 16,
        attention: bool = False,
        deep_supervision: bool = True,
    ) -> None:
        super().__init__()
        levels = len(channels)
        self.compression = 2 ** (levels - 1)
        self.latent_channels = latent_channels
        self.autoencoder = AutoencoderKL(
            spatial_dims=2,
            in_channels=in_channels,
            out_channels=in_channels,
            channels=tuple(channels),
            num_res_blocks=(num_res_blocks,) * levels,
            attention_levels=(False,) * levels,
            latent_channels=latent_channels,
            norm_num_groups=norm_num_groups,
            with_encoder_nonlocal_attn=attention,
            with_decoder_nonlocal_attn=attention,
        )
        blocks = self.autoencoder.decoder.blocks
        ups = [i for i, b in enumerate(blocks) if type(b).__name__ == "UpSample"]
        self._tap = ups[-1] if (deep_supervision and ups) else None
        self.ds_head: nn.Module | None = None
        if self._tap is not None:
            width = channels[1]
            self.ds_head = nn.Sequential(
                nn.GroupNorm(norm_num_groups, width, eps=1e-6), nn.SiLU(), nn.Conv2d(width, in_channels, 3, padding=1)
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior mean and standard deviation of the latents of ``x``."""
        return self.autoencoder.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decode latents to an image (no deep-supervision output)."""
        return self.autoencoder.decode(z)

    def decode_with_aux(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode latents; also return the half-resolution reconstruction used for deep supervision."""
        if self._tap is None:
            return self.decode(z), None
        h = self.autoencoder.post_quant_conv(z)
        aux = None
        for i, block in enumerate(self.autoencoder.decoder.blocks):
            if i == self._tap:
                aux = self.ds_head(h)  # type: ignore[misc]
            h = block(h)
        return h, aux

    def forward(
        self, x: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """Encode, sample the posterior, decode: ``(reconstruction, half_res_reconstruction, mu, sigma)``.

        Args:
            x: images (B, C, H, W) in [-1, 1].
            noise: standard normal noise of the latents' shape (drawn here when None).
        """
        mu, sigma = self.encode(x)
        z = mu + sigma * (torch.randn_like(sigma) if noise is None else noise)
        recon, aux = self.decode_with_aux(z)
        return recon, aux, mu, sigma
