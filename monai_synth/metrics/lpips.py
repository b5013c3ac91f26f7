"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR
2018), AlexNet variant v0.1, re-implemented without torchvision and run only from local weights.

Two files are needed, and nothing is ever downloaded:

- ``backbone``: torchvision's AlexNet state dict (``alexnet-owt-7be5be79.pth``; keys ``features.*``);
- ``lin``: the LPIPS linear heads (``lpips/weights/v0.1/alex.pth`` of the ``lpips`` package; keys
  ``lin0.model.1.weight`` ... ``lin4.model.1.weight``).

They are found, in order, from the ``weights`` argument, the environment variables
``MONAI_SYNTH_LPIPS_BACKBONE`` and ``MONAI_SYNTH_LPIPS_LIN``, torch's hub cache
(``$TORCH_HOME/hub/checkpoints``) for the backbone, and the installed ``lpips`` package for the heads
(located with ``importlib.util.find_spec``, never imported). Missing files raise
:class:`LpipsWeightsError` with a message saying how to provide them.

Distance: ``sum_l mean_hw || w_l * (f_l(x) / |f_l(x)| - f_l(y) / |f_l(y)|) ||^2`` over the five ReLU
outputs of AlexNet, inputs in ``[-1, 1]`` shifted and scaled per channel as in LPIPS, grayscale repeated
to RGB.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "LPIPS_BACKBONE_ENV",
    "LPIPS_LIN_ENV",
    "LpipsWeightsError",
    "resolve_lpips_weights",
    "LpipsAlex",
    "lpips_distance",
]

LPIPS_BACKBONE_ENV = "MONAI_SYNTH_LPIPS_BACKBONE"
LPIPS_LIN_ENV = "MONAI_SYNTH_LPIPS_LIN"
_BACKBONE_FILE = "alexnet-owt-7be5be79.pth"
_CHANNELS = (64, 192, 384, 256, 256)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)

_models: dict[tuple[str, str, str], "LpipsAlex"] = {}


class LpipsWeightsError(FileNotFoundError):
    """LPIPS weights are not available locally; the message says how to provide them."""


def _hub_backbone() -> Path | None:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "torch")
    candidate = Path(torch_home) / "hub" / "checkpoints" / _BACKBONE_FILE
    return candidate if candidate.is_file() else None


def _package_lin() -> Path | None:
    spec = importlib.util.find_spec("lpips")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "weights" / "v0.1" / "alex.pth"
        if candidate.is_file():
            return candidate
    return None


def _pick(name: str, given: str | os.PathLike | None, env: str, fallback: Path | None) -> Path:
    for source, value in ((f"weights['{name}']", given), (env, os.environ.get(env))):
        if value:
            if not Path(value).is_file():
                raise LpipsWeightsError(f"LPIPS {name} weights: {source}={os.fspath(value)!r} is not a file")
            return Path(value)
    if fallback is None:
        raise LpipsWeightsError(
            f"LPIPS skipped: no local {name} weights. Set {LPIPS_BACKBONE_ENV} to torchvision's {_BACKBONE_FILE} "
            f"and {LPIPS_LIN_ENV} to lpips' weights/v0.1/alex.pth (or pass weights={{'backbone': ..., 'lin': ...}}); "
            "nothing is downloaded."
        )
    return fallback


def resolve_lpips_weights(weights: dict[str, str | os.PathLike] | None = None) -> tuple[Path, Path]:
    """Paths of the AlexNet backbone and the LPIPS heads (see the module docstring for the search order).

    Raises:
        LpipsWeightsError: when either file is missing.
    """
    weights = weights or {}
    backbone = _pick("backbone", weights.get("backbone"), LPIPS_BACKBONE_ENV, _hub_backbone())
    lin = _pick("lin", weights.get("lin"), LPIPS_LIN_ENV, _package_lin())
    return backbone, lin


def _alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features`` layout (indices match its state-dict keys)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
    )  # fmt: skip


class LpipsAlex(nn.Module):
    """LPIPS v0.1 with an AlexNet trunk; ``forward(x, y)`` returns the ``(B,)`` distances."""

    _TAPS = (1, 4, 7, 9, 11)  # ReLU outputs relu1 .. relu5

    def __init__(self) -> None:
        super().__init__()
        self.features = _alexnet_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def load_files(self, backbone: str | os.PathLike, lin: str | os.PathLike) -> LpipsAlex:
        """Load torchvision AlexNet weights and LPIPS heads (``weights_only`` loads)."""
        trunk = torch.load(backbone, map_location="cpu", weights_only=True)
        self.features.load_state_dict({k[len("features."):]: v for k, v in trunk.items() if k.startswith("features.")})
        heads = torch.load(lin, map_location="cpu", weights_only=True)
        for i, layer in enumerate(self.lins):
            layer.weight.data.copy_(heads[f"lin{i}.model.1.weight"])
        return self.eval()

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x.expand(-1, 3, -1, -1) - self.shift) / self.scale
        outs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._TAPS:
                outs.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return outs

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for lin, fx, fy in zip(self.lins, self._taps(x), self._taps(y)):
            total = total + lin((fx - fy).pow(2)).mean(dim=(1, 2, 3))
        return total


def lpips_distance(
    x: torch.Tensor, y: torch.Tensor, weights: dict[str, str | os.PathLike] | None = None
) -> torch.Tensor:
    """LPIPS distance of each pair of images in ``[-1, 1]`` (``(B, 1 or 3, H, W)``).

    Args:
        x: first images.
        y: second images.
        weights: ``{"backbone": path, "lin": path}``; ``None`` searches as in the module docstring.

    Returns:
        ``(B,)`` float tensor.

    Raises:
        LpipsWeightsError: when the weights are not available locally.
    """
    backbone, lin = resolve_lpips_weights(weights)
    key = (str(backbone), str(lin), str(x.device))
    if key not in _models:
        _models[key] = LpipsAlex().load_files(backbone, lin).to(x.device)
    with torch.no_grad():
        return _models[key](x.float(), y.float())
