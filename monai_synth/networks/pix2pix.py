"""pix2pix networks: U-Net generator and conditional PatchGAN discriminator.

After Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (CVPR 2017), and
its reference code (junyanz/pytorch-CycleGAN-and-pix2pix, ``UnetGenerator``): an encoder of 4x4 stride-2
convolutions (LeakyReLU 0.2) down to a small bottleneck, a decoder of 4x4 stride-2 transposed convolutions
(ReLU) with skip connections from the encoder level of the same size, normalisation in every block but the
outermost ones and the bottleneck, dropout 0.5 in the innermost decoder blocks, and a tanh output.
"""

from __future__ import annotations

import math

import torch
from monai.networks.nets import PatchDiscriminator
from torch import Tensor, nn

__all__ = ["Pix2PixGenerator", "build_patch_discriminator", "max_unet_depth"]

NORMS = ("instance", "batch")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.BatchNorm2d(channels)


def max_unet_depth(image_size: int) -> int:
    """Deepest generator for an image side: every level halves it, down to 1 pixel."""
    return int(math.log2(image_size & -image_size))  # power of two dividing the side


class Pix2PixGenerator(nn.Module):
    """pix2pix U-Net generator ``G(condition) -> image`` in [-1, 1].

    Args:
        in_channels: channels of the condition (degraded image, plus the mask for inpainting).
        out_channels: channels of the restored image.
        features: channels of the first encoder level (64 in the paper); level k has
            ``min(features * 2**k, max_features)``.
        depth: number of stride-2 levels (the input side must be divisible by ``2**depth``; 8 at 256 px).
        max_features: channel cap (``8 * features`` when None, as in the paper).
        norm: "instance" or "batch".
        dropout: dropout probability of the innermost decoder blocks (0 disables).
        dropout_blocks: how many of the innermost decoder blocks (below the channel cap) get dropout.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        features: int = 64,
        depth: int = 8,
        max_features: int | None = None,
        norm: str = "instance",
        dropout: float = 0.5,
        dropout_blocks: int = 3,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        cap = max_features or 8 * features
        chs = [min(features * 2**k, cap) for k in range(depth)]
        self.depth = depth
        self.down = nn.ModuleList([nn.Conv2d(in_channels, chs[0], 4, 2, 1)])
        for k in range(1, depth):
            self.down.append(self._down_block(chs[k - 1], chs[k], norm, innermost=k == depth - 1))
        self.up = nn.ModuleList()
        for k in range(depth - 1, 0, -1):
            inner = k == depth - 1
            p = dropout if depth - 1 - k < dropout_blocks else 0.0
            self.up.append(self._up_block(chs[k] * (1 if inner else 2), chs[k - 1], norm, p))
        self.out = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(chs[0] * 2, out_channels, 4, 2, 1), nn.Tanh())

    @staticmethod
    def _down_block(cin: int, cout: int, norm: str, innermost: bool) -> nn.Sequential:
        layers: list[nn.Module] = [nn.LeakyReLU(0.2), nn.Conv2d(cin, cout, 4, 2, 1, bias=innermost)]
        return nn.Sequential(*layers) if innermost else nn.Sequential(*layers, _norm(norm, cout))

    @staticmethod
    def _up_block(cin: int, cout: int, norm: str, dropout: float) -> nn.Sequential:
        layers = [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), _norm(norm, cout)]
        return nn.Sequential(*layers, nn.Dropout(dropout)) if dropout > 0 else nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Restore a condition ``(B, C_cond, H, W)`` to ``(B, C, H, W)``."""
        step = 2**self.depth
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"input size {x.shape[-2]} x {x.shape[-1]} must be divisible by 2**depth = {step}")
        skips: list[Tensor] = []  # typed, so that the network compiles with torch.jit.script
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck feeds the first decoder block directly
        for block in self.up:
            x = block(x)
            x = torch.cat([x, skips.pop()], dim=1)
        return self.out(x)


def build_patch_discriminator(
    in_channels: int, channels: int = 64, num_layers_d: int = 3, norm: str = "batch"
) -> PatchDiscriminator:
    """Conditional PatchGAN discriminator (70x70 receptive field with 3 layers at 64 features).

    It sees ``cat([condition, image])``, so ``in_channels = C_cond + C``; MONAI's ``PatchDiscriminator``
    returns every layer's output, the last one being the patch logits.

    Args:
        in_channels: condition channels + image channels.
        channels: features of the first layer (doubled per layer).
        num_layers_d: stride-2 layers.
        norm: "batch" (the paper) or "instance".
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return PatchDiscriminator(
        spatial_dims=2, channels=channels, in_channels=in_channels, out_channels=1, num_layers_d=num_layers_d,
        norm="BATCH" if norm == "batch" else ("INSTANCE", {"affine": True}),
    )
