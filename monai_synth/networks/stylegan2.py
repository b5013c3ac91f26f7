"""StyleGAN2 generator (mapping + synthesis) and residual discriminator, class-conditional, any channel count.

Architecture after Karras et al., "Analyzing and Improving the Image Quality of StyleGAN" (CVPR 2020): a mapping
network z -> w, a synthesis network of modulated/demodulated convolutions with noise inputs and skip toRGB
outputs, and a residual discriminator with a minibatch standard deviation layer. The conditional setup follows
Karras et al., "Training GANs with Limited Data" (StyleGAN2-ADA, NeurIPS 2020): the class label is embedded
and concatenated to z in the mapping network, and the discriminator projects its features on a mapped label
embedding. Written here from the papers in plain PyTorch.

Channels at resolution r are ``min(channel_base // r, channel_max)``; a tiny CPU preset is e.g.
``channel_base=1024, channel_max=64``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from monai_synth.networks.stylegan2_layers import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStdDev,
    StyleConvLayer,
    ToImageLayer,
    upsample_2x,
)


def _check_resolution(image_size: int) -> int:
    """Return log2(image_size); raise ValueError unless it is a power of two >= 8."""
    log2 = int(round(math.log2(image_size))) if image_size > 0 else 0
    if image_size < 8 or 2**log2 != image_size:
        raise ValueError(f"image_size must be a power of two >= 8, got {image_size}.")
    return log2


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature channels at a resolution: ``min(channel_base // resolution, channel_max)`` (at least 1)."""
    return max(1, min(channel_base // resolution, channel_max))


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit mean square (pixel norm of the latent)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class StyleGAN2MappingNetwork(nn.Module):
    """Map a latent z (and a class label) to an intermediate latent w with an MLP.

    The label is one-hot encoded, embedded by a linear layer, normalised and concatenated to the normalised z.
    With ``z_dim=0`` the network maps labels only (the discriminator's label projection).

    Args:
        z_dim: width of z (0: no z input).
        w_dim: width of w.
        num_classes: number of classes (0: unconditional).
        num_layers: fully connected layers.
        lr_multiplier: learning-rate multiplier of the MLP (0.01 in StyleGAN).
    """

    def __init__(
        self, z_dim: int, w_dim: int, num_classes: int = 0, num_layers: int = 8, lr_multiplier: float = 0.01
    ) -> None:
        super().__init__()
        if z_dim <= 0 and num_classes <= 0:
            raise ValueError("StyleGAN2MappingNetwork needs z_dim > 0 or num_classes > 0.")
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.embed = EqualizedLinear(num_classes, w_dim) if num_classes > 0 else None
        widths = [(z_dim if z_dim > 0 else 0) + (w_dim if num_classes > 0 else 0)] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *[
                EqualizedLinear(widths[i], widths[i + 1], lr_multiplier=lr_multiplier, activation=True)
                for i in range(num_layers)
            ]
        )

    def forward(self, z: torch.Tensor | None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, z_dim) or None, labels (B,) int64 or None -> w (B, w_dim)."""
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z))
        if self.embed is not None:
            if labels is None:
                raise ValueError(f"this network is conditional on {self.num_classes} classes: labels are required.")
            onehot = F.one_hot(labels.long(), self.num_classes).to(self.embed.weight.dtype)
            parts.append(normalize_2nd_moment(self.embed(onehot)))
        return self.layers(torch.cat(parts, dim=1))


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (upsampling) convs, and a toImage output added to the skip image."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, image_channels: int, fused: bool
    ) -> None:
        super().__init__()
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            self.conv0 = StyleConvLayer(in_channels, out_channels, w_dim, resolution, upsample=True, fused=fused)
        self.conv1 = StyleConvLayer(out_channels, out_channels, w_dim, resolution, fused=fused)
        self.to_image = ToImageLayer(out_channels, image_channels, w_dim, fused=fused)
        self.num_conv = 1 if self.first else 2

    def forward(
        self, x: torch.Tensor | None, image: torch.Tensor | None, ws: torch.Tensor, noise_mode: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ws: (B, num_conv + 1, w_dim), one w per conv and one for toImage."""
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1).to(ws.dtype)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode)
        y = self.to_image(x, ws[:, self.num_conv])
        image = y if image is None else upsample_2x(image) + y
        return x, image


class StyleGAN2SynthesisNetwork(nn.Module):
    """Synthesis network from a learned 4x4 constant to ``image_size`` (skip architecture, StyleGAN2 config F).

    Args:
        w_dim: width of w.
        image_size: output resolution, a power of two >= 8.
        image_channels: output channels (1 grayscale, 3 RGB).
        channel_base: channels at resolution r are ``min(channel_base // r, channel_max)``.
        channel_max: maximum channels.
        fused_modconv: grouped-convolution modulation (see ``modulated_conv2d``).
    """

    def __init__(
        self,
        w_dim: int,
        image_size: int,
        image_channels: int = 1,
        channel_base: int = 16384,
        channel_max: int = 512,
        fused_modconv: bool = True,
    ) -> None:
        super().__init__()
        log2 = _check_resolution(image_size)
        self.resolutions = [2**i for i in range(2, log2 + 1)]
        self.blocks = nn.ModuleDict()
        for res in self.resolutions:
            in_ch = channels_at(res // 2, channel_base, channel_max) if res > 4 else 0
            out_ch = channels_at(res, channel_base, channel_max)
            self.blocks[f"b{res}"] = SynthesisBlock(in_ch, out_ch, w_dim, res, image_channels, fused_modconv)
        self.num_ws = sum(b.num_conv for b in self.blocks.values()) + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> images (B, image_channels, image_size, image_size)."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must have shape (B, {self.num_ws}, w_dim), got {tuple(ws.shape)}.")
        x = image = None
        index = 0
        for block in self.blocks.values():
            x, image = block(x, image, ws[:, index : index + block.num_conv + 1], noise_mode)
            index += block.num_conv
        return image


class StyleGAN2Generator(nn.Module):
    """StyleGAN2 generator: mapping network, per-class running mean of w (for truncation), synthesis network.

    Args:
        image_size: output resolution, a power of two >= 8.
        image_channels: output channels (1 or 3).
        num_classes: classes for conditioning (0: unconditional).
        z_dim: width of the input latent z.
        w_dim: width of the intermediate latent w.
        mapping_layers: layers of the mapping MLP (8 in StyleGAN2, 2 in StyleGAN2-ADA's small configs).
        channel_base: channels at resolution r are ``min(channel_base // r, channel_max)``.
        channel_max: maximum channels.
        fused_modconv: grouped-convolution modulation.
        w_avg_beta: decay of the running mean of w tracked during training.
    """

    def __init__(
        self,
        image_size: int,
        image_channels: int = 1,
        num_classes: int = 0,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        channel_base: int = 16384,
        channel_max: int = 512,
        fused_modconv: bool = True,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        self.init_kwargs: dict[str, Any] = {
            "image_size": image_size, "image_channels": image_channels, "num_classes": num_classes,
            "z_dim": z_dim, "w_dim": w_dim, "mapping_layers": mapping_layers, "channel_base": channel_base,
            "channel_max": channel_max, "fused_modconv": fused_modconv, "w_avg_beta": w_avg_beta,
        }  # fmt: skip
        self.image_size = image_size
        self.image_channels = image_channels
        self.num_classes = num_classes
        self.z_dim = z_dim
        self.w_avg_beta = w_avg_beta
        self.mapping = StyleGAN2MappingNetwork(z_dim, w_dim, num_classes, mapping_layers)
        self.synthesis = StyleGAN2SynthesisNetwork(
            w_dim, image_size, image_channels, channel_base, channel_max, fused_modconv
        )
        self.num_ws = self.synthesis.num_ws
        self.register_buffer("w_avg", torch.zeros(max(num_classes, 1), w_dim))

    def _class_index(self, labels: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        if self.num_classes == 0 or labels is None:
            return torch.zeros(batch, dtype=torch.long, device=device)
        return labels.long()

    @torch.no_grad()
    def _track_w_avg(self, w: torch.Tensor, index: torch.Tensor) -> None:
        for k in index.unique():
            self.w_avg[k].lerp_(w[index == k].mean(dim=0).to(self.w_avg.dtype), 1.0 - self.w_avg_beta)

    def map(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        """z (B, z_dim), labels (B,) -> ws (B, num_ws, w_dim), truncated towards the class mean of w."""
        w = self.mapping(z, labels)
        index = self._class_index(labels, w.shape[0], w.device)
        if update_w_avg:
            self._track_w_avg(w.detach(), index)
        if truncation_psi != 1.0:
            w = torch.lerp(self.w_avg[index].to(w.dtype), w, truncation_psi)
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)

    def mix_styles(self, ws: torch.Tensor, labels: torch.Tensor | None, probability: float) -> torch.Tensor:
        """Style mixing regularisation: with ``probability``, ws after a random layer come from another z."""
        if probability <= 0 or torch.rand(()) >= probability:
            return ws
        cutoff = int(torch.randint(1, self.num_ws, ()))
        other = self.map(torch.randn(ws.shape[0], self.z_dim, device=ws.device, dtype=ws.dtype), labels)
        return torch.cat([ws[:, :cutoff], other[:, cutoff:]], dim=1)

    def forward(
        self,
        z: torch.Tensor,
        labels: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        noise_mode: str = "random",
    ) -> torch.Tensor:
        """z (B, z_dim), labels (B,) int64 or None -> images (B, image_channels, image_size, image_size)."""
        return self.synthesis(self.map(z, labels, truncation_psi), noise_mode)


class DiscriminatorBlock(nn.Module):
    """Residual discriminator block: two 3x3 convs (second one downsamples) plus a 1x1 downsampling skip."""

    def __init__(self, in_channels: int, out_channels: int, image_channels: int, from_image: bool) -> None:
        super().__init__()
        self.from_image = EqualizedConv2d(image_channels, in_channels, 1) if from_image else None
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) (or the image for the first block) -> (B, out, H/2, W/2)."""
        if self.from_image is not None:
            x = self.from_image(x)
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: minibatch std, 3x3 conv, fully connected layer, output layer (1 logit or a projection vector)."""

    def __init__(self, channels: int, out_features: int, mbstd_group_size: int, mbstd_channels: int) -> None:
        super().__init__()
        self.mbstd = MinibatchStdDev(mbstd_group_size, mbstd_channels)
        self.conv = EqualizedConv2d(channels + mbstd_channels, channels, 3)
        self.fc = EqualizedLinear(channels * 16, channels, activation=True)
        self.out = EqualizedLinear(channels, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, 4, 4) -> (B, out_features)."""
        return self.out(self.fc(self.conv(self.mbstd(x)).flatten(1)))


class StyleGAN2Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator; conditional by projection onto a mapped label embedding.

    Args:
        image_size: input resolution, a power of two >= 8.
        image_channels: input channels (1 or 3).
        num_classes: classes (0: unconditional, one logit).
        channel_base: channels at resolution r are ``min(channel_base // r, channel_max)``.
        channel_max: maximum channels.
        mapping_layers: layers of the label mapping network (conditional only).
        cmap_dim: width of the label projection (default: channels at 4x4).
        mbstd_group_size: group size of the minibatch standard deviation layer.
        mbstd_channels: statistics appended by that layer.
    """

    def __init__(
        self,
        image_size: int,
        image_channels: int = 1,
        num_classes: int = 0,
        channel_base: int = 16384,
        channel_max: int = 512,
        mapping_layers: int = 8,
        cmap_dim: int | None = None,
        mbstd_group_size: int = 4,
        mbstd_channels: int = 1,
    ) -> None:
        super().__init__()
        log2 = _check_resolution(image_size)
        self.num_classes = num_classes
        self.blocks = nn.ModuleDict()
        for res in [2**i for i in range(log2, 2, -1)]:
            in_ch = channels_at(res, channel_base, channel_max)
            out_ch = channels_at(res // 2, channel_base, channel_max)
            self.blocks[f"b{res}"] = DiscriminatorBlock(in_ch, out_ch, image_channels, from_image=res == image_size)
        ch4 = channels_at(4, channel_base, channel_max)
        self.cmap_dim = (cmap_dim or ch4) if num_classes > 0 else 0
        self.label_mapping = (
            StyleGAN2MappingNetwork(0, self.cmap_dim, num_classes, mapping_layers) if num_classes > 0 else None
        )
        self.b4 = DiscriminatorEpilogue(ch4, self.cmap_dim or 1, mbstd_group_size, mbstd_channels)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """images (B, C, H, W), labels (B,) int64 or None -> logits (B, 1)."""
        x = images
        for block in self.blocks.values():
            x = block(x)
        x = self.b4(x)
        if self.label_mapping is None:
            return x
        cmap = self.label_mapping(None, labels)
        return (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
