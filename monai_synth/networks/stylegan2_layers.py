"""Layers of StyleGAN2: equalized learning rate, modulated convolution, noise inputs, resampling, minibatch std.

Written here from the papers, in plain PyTorch (no custom CUDA ops), so it runs on CPU and GPU alike:

- Karras, Laine, Aila, "A Style-Based Generator Architecture for GANs" (StyleGAN), CVPR 2019.
- Karras, Laine, Aittala, Hellsten, Lehtinen, Aila, "Analyzing and Improving the Image Quality of StyleGAN"
  (StyleGAN2), CVPR 2020: weight modulation and demodulation (section 2.2, eq. 1-3).
- Karras, Hellsten, Laine, Lehtinen, Aila, "Progressive Growing of GANs" (ICLR 2018): equalized learning
  rate and the minibatch standard deviation layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) scaled by sqrt(2) so that unit-variance inputs keep roughly unit variance."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def _blur_kernel(channels: int, like: torch.Tensor) -> torch.Tensor:
    """The separable [1, 3, 3, 1] low-pass filter, normalised to sum 1, as a depthwise conv weight."""
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=like.dtype, device=like.device)
    k2 = torch.outer(k, k)
    return (k2 / k2.sum()).expand(channels, 1, 4, 4)


def downsample_2x(x: torch.Tensor) -> torch.Tensor:
    """Blur with the [1, 3, 3, 1] filter and keep every second pixel: (B, C, H, W) -> (B, C, H/2, W/2)."""
    x = F.pad(x, (1, 1, 1, 1), mode="reflect")
    return F.conv2d(x, _blur_kernel(x.shape[1], x), stride=2, groups=x.shape[1])


def upsample_2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling (the [1, 3, 3, 1] filter applied to the zero-stuffed image)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalized learning rate: weights ~ N(0, 1) scaled at run time.

    Args:
        in_features: input width.
        out_features: output width.
        bias_init: initial value of the bias.
        lr_multiplier: learning-rate multiplier of this layer (0.01 in the mapping network).
        activation: apply the scaled leaky ReLU.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.lr_multiplier = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_features) -> (B, out_features)."""
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_multiplier)
        return lrelu(x) if self.activation else x


class EqualizedConv2d(nn.Module):
    """2D convolution with equalized learning rate, optional 2x blur-downsampling before it.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd kernel size ("same" padding).
        bias: learn a bias.
        activation: apply the scaled leaky ReLU.
        down: halve the resolution (blur, then subsample) before the convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: bool = True,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation = activation
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) -> (B, out, H, W), or (B, out, H/2, W/2) with ``down``."""
        if self.down:
            x = downsample_2x(x)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)
        return lrelu(x) if self.activation else x


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    fused: bool = True,
    eps: float = 1e-8,
) -> torch.Tensor:
    """StyleGAN2 modulated convolution (Karras et al. 2020, eq. 1-3), "same" padding.

    Modulation scales input channel i of every sample's kernel by its style s_i: w'_ijk = s_i * w_ijk.
    Demodulation rescales each output channel j to unit norm: w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps),
    so unit-variance inputs give unit-variance outputs.

    Args:
        x: (B, I, H, W) input.
        weight: (O, I, k, k) shared kernel (already scaled for equalized learning rate).
        styles: (B, I) per-sample input-channel scales.
        demodulate: normalise each output channel (False for the toRGB layers).
        fused: one grouped convolution with per-sample kernels (groups=B); otherwise scale the activations,
            convolve with the shared kernel, and scale the outputs (same result, different cost).
        eps: numerical floor inside the square root.

    Returns:
        (B, O, H, W) output.
    """
    batch, in_channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch, 1, in_channels, 1, 1)  # (B, O, I, k, k)
    dcoefs = (w.square().sum(dim=(2, 3, 4)) + eps).rsqrt() if demodulate else None  # (B, O)
    if not fused:
        out = F.conv2d(x * styles.reshape(batch, in_channels, 1, 1), weight, padding=kh // 2)
        return out * dcoefs.reshape(batch, out_channels, 1, 1) if dcoefs is not None else out
    if dcoefs is not None:
        w = w * dcoefs.reshape(batch, out_channels, 1, 1, 1)
    out = F.conv2d(
        x.reshape(1, batch * in_channels, height, width),
        w.reshape(batch * out_channels, in_channels, kh, kw),
        padding=kh // 2,
        groups=batch,
    )
    return out.reshape(batch, out_channels, height, width)


class ModulatedConv2d(nn.Module):
    """A modulated convolution whose styles come from an affine map of the latent w.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: odd kernel size.
        w_dim: width of the latent w.
        demodulate: normalise output channels (StyleGAN2 weight demodulation).
        upsample: double the resolution (bilinear) before the convolution.
        fused: use the grouped-convolution implementation (see ``modulated_conv2d``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate
        self.upsample = upsample
        self.fused = fused

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x (B, I, H, W), w (B, w_dim) -> (B, O, H, W) (or 2H x 2W with ``upsample``)."""
        if self.upsample:
            x = upsample_2x(x)
        styles = self.affine(w)
        return modulated_conv2d(x, self.weight * self.weight_gain, styles, self.demodulate, self.fused)


class StyleConvLayer(nn.Module):
    """Modulated 3x3 conv + per-pixel noise input (learned strength) + bias + scaled leaky ReLU.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        w_dim: width of the latent w.
        resolution: output resolution (for the constant noise buffer).
        upsample: double the resolution first.
        fused: grouped-convolution modulation.
    """

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, upsample: bool = False,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, upsample=upsample, fused=fused)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """Apply the layer; ``noise_mode`` is "random" (fresh noise), "const" (fixed buffer) or "none"."""
        x = self.conv(x, w)
        if noise_mode == "random":
            x = x + torch.randn_like(x[:, :1]) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}.")
        return lrelu(x + self.bias.reshape(1, -1, 1, 1))


class ToImageLayer(nn.Module):
    """Modulated 1x1 conv without demodulation from features to image channels (StyleGAN2 "toRGB")."""

    def __init__(self, in_channels: int, image_channels: int, w_dim: int, fused: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, image_channels, 1, w_dim, demodulate=False, fused=fused)
        self.bias = nn.Parameter(torch.zeros(image_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """(B, in, H, W) -> (B, image_channels, H, W)."""
        return self.conv(x, w) + self.bias.reshape(1, -1, 1, 1)


class MinibatchStdDev(nn.Module):
    """Append the standard deviation of features across groups of samples as extra channels.

    Karras et al. 2018 (section 3): within each group of ``group_size`` samples, the standard deviation of
    every feature at every position is averaged into ``num_channels`` statistics, which are appended to
    every sample of the group, letting the discriminator see variation across the batch.

    Args:
        group_size: samples per group (reduced to a divisor of the batch size when needed).
        num_channels: statistics appended (features are split into this many groups of channels).
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C + num_channels, H, W)."""
        batch, channels, height, width = x.shape
        group = max(g for g in range(1, min(self.group_size, batch) + 1) if batch % g == 0)
        f = self.num_channels
        y = x.reshape(group, batch // group, f, channels // f, height, width)
        y = (y - y.mean(dim=0)).square().mean(dim=0)  # variance over the group
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (B / group, f)
        y = y.reshape(-1, f, 1, 1).repeat(group, 1, height, width)
        return torch.cat([x, y], dim=1)
