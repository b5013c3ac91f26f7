"""SRGAN networks: SRResNet generator and the SRGAN discriminator.

After Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network"
(CVPR 2017), Figure 4. The paper's generator ends in pixel-shuffle upsampling by an integer factor; Med-cDiff's
super-resolution factors are not all integers (2 sqrt 2, 4 sqrt 2, 8 sqrt 2), so here, as for every other
restorer, the condition is the low-resolution image already upsampled (bicubic) to full size and the
generator works at full resolution throughout: no pixel-shuffle layers, everything else as in the paper.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["SRResNetGenerator", "SRGANDiscriminator"]


class _ResidualBlock(nn.Module):
    """conv3 - BN - PReLU - conv3 - BN, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNetGenerator(nn.Module):
    """SRResNet at full resolution: head conv9 + PReLU, ``num_blocks`` residual blocks, conv3 + BN with a
    global skip from the head, tail conv9 and tanh (output in [-1, 1]).

    Args:
        in_channels: channels of the (bicubically upsampled) low-resolution image.
        out_channels: channels of the restored image.
        features: feature channels (64 in the paper).
        num_blocks: residual blocks (16 in the paper).
    """

    def __init__(self, in_channels: int, out_channels: int, features: int = 64, num_blocks: int = 16) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(in_channels, features, 9, 1, 4), nn.PReLU(features))
        self.blocks = nn.Sequential(*[_ResidualBlock(features) for _ in range(num_blocks)])
        self.merge = nn.Sequential(nn.Conv2d(features, features, 3, 1, 1, bias=False), nn.BatchNorm2d(features))
        self.tail = nn.Sequential(nn.Conv2d(features, out_channels, 9, 1, 4), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        """Restore ``(B, C_in, H, W)`` to ``(B, C_out, H, W)``."""
        head = self.head(x)
        return self.tail(head + self.merge(self.blocks(head)))


def _disc_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class SRGANDiscriminator(nn.Module):
    """SRGAN discriminator: conv3 + LeakyReLU, then pairs of conv3-BN-LeakyReLU blocks (stride 2, then stride 1
    with doubled channels), global average pooling and a dense head (``dense`` units, LeakyReLU, 1 logit).

    The paper flattens a 96x96 crop's features into the dense layer; global pooling makes the network
    independent of the image size (the dense layers are 1x1 convolutions on the pooled features).

    Args:
        in_channels: image channels.
        features: channels of the first layer (64 in the paper), doubled per stage.
        num_stages: number of (stride-1 widening, stride-2) block pairs after the first layer (4 in the paper:
            64 -> 512 channels).
        dense: units of the dense layer (1024 in the paper).
    """

    def __init__(self, in_channels: int, features: int = 64, num_stages: int = 4, dense: int = 1024) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, features, 3, 1, 1), nn.LeakyReLU(0.2)]
        layers.append(_disc_block(features, features, 2))
        ch = features
        for _ in range(num_stages - 1):
            layers += [_disc_block(ch, ch * 2, 1), _disc_block(ch * 2, ch * 2, 2)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(ch, dense, 1), nn.LeakyReLU(0.2), nn.Conv2d(dense, 1, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Real/fake logits ``(B,)`` of images ``(B, C, H, W)``."""
        return self.head(self.features(x)).flatten()
