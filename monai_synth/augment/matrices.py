"""Batched 3x3 homogeneous matrices of 2D transforms in normalised image coordinates ([-1, 1], centre 0)."""

from __future__ import annotations

import torch


def _identity_like(values: torch.Tensor) -> torch.Tensor:
    return torch.eye(3, dtype=values.dtype, device=values.device).repeat(values.shape[0], 1, 1)


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """(B,) shifts -> (B, 3, 3) translation matrices."""
    m = _identity_like(tx)
    m[:, 0, 2] = tx
    m[:, 1, 2] = ty
    return m


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    """(B,) factors -> (B, 3, 3) scaling matrices about the image centre."""
    m = _identity_like(sx)
    m[:, 0, 0] = sx
    m[:, 1, 1] = sy
    return m


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    """(B,) angles in radians -> (B, 3, 3) rotation matrices about the image centre."""
    m = _identity_like(theta)
    cos, sin = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0] = cos
    m[:, 0, 1] = -sin
    m[:, 1, 0] = sin
    m[:, 1, 1] = cos
    return m


def rotate90_2d(k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B,) integer quarter turns -> (B, 3, 3) exact rotation matrices (no rounding error in cos/sin)."""
    cos = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=dtype, device=k.device)[k % 4]
    sin = torch.tensor([0.0, 1.0, 0.0, -1.0], dtype=dtype, device=k.device)[k % 4]
    m = _identity_like(cos)
    m[:, 0, 0] = cos
    m[:, 0, 1] = -sin
    m[:, 1, 0] = sin
    m[:, 1, 1] = cos
    return m
