"""Figures every engine writes: image grids and loss curves (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["to_uint8", "save_grid", "plot_losses", "save_figure"]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W[, C]) uint8."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
    return x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)


def save_grid(rows: list[np.ndarray], path: Path, pad: int = 2) -> Path:
    """Save rows of uint8 images (one row per class) as one PNG, written atomically."""
    from PIL import Image

    h, w = rows[0].shape[1:3]
    ncol = max(r.shape[0] for r in rows)
    shape = (len(rows) * (h + pad) + pad, ncol * (w + pad) + pad) + rows[0].shape[3:]
    canvas = np.full(shape, 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = img
    tmp = path.with_name(f".{path.name}.tmp.png")
    Image.fromarray(canvas).save(tmp)
    tmp.replace(path)
    return path


def plot_losses(histories: dict[str, dict], path: Path) -> Path | None:
    """One panel per phase with every logged loss against the iteration (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histories = {k: v for k, v in histories.items() if v and v.get("iterations")}
    if not histories:
        return None
    fig, axes = plt.subplots(1, len(histories), figsize=(6 * len(histories), 4), squeeze=False)
    for ax, (name, hist) in zip(axes[0], histories.items()):
        for key, values in hist["values"].items():
            if key in ("grad_norm",):
                continue
            ax.plot(hist["iterations"][-len(values) :], values, label=key)  # late terms (adversarial) start later
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    """Lay out a matplotlib figure and write it to ``path`` as PNG through a temporary file; close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path
