"""Sample grids of a StyleGAN2 generator: one per class, the same latents for every class."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from monai_synth.engines.progress import PhasePreview
from monai_synth.engines.report_cap import report_classes
from monai_synth.io import write_png
from monai_synth.networks.stylegan2 import StyleGAN2Generator


def _image_grid(images: torch.Tensor, columns: int, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (C, rows * (H + pad), columns * (W + pad)) with black gaps."""
    n, c, h, w = images.shape
    rows = math.ceil(n / columns)
    padded = torch.full((rows * columns, c, h + pad, w + pad), -1.0, dtype=images.dtype)
    padded[:n, :, :h, :w] = images
    grid = padded.reshape(rows, columns, c, h + pad, w + pad).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + pad), columns * (w + pad))
    return grid[:, : rows * (h + pad) - pad, : columns * (w + pad) - pad]


@torch.no_grad()
def class_sample_grids(
    generator: StyleGAN2Generator, rows: int = 4, columns: int = 8, seed: int = 0, truncation_psi: float = 1.0
) -> dict[int | None, torch.Tensor]:
    """One grid (C, H', W') in [-1, 1] per class (key None when unconditional); the same z for every class.

    Many classes: only the first ones get a grid, at most ``MAX_REPORT_IMAGES`` images in all (logged).
    """
    device = next(generator.parameters()).device
    z = torch.randn(rows * columns, generator.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    shown = report_classes(generator.num_classes, rows * columns)[0] if generator.num_classes else []
    classes: list[int | None] = list(shown) or [None]
    grids = {}
    for k in classes:
        labels = torch.full((z.shape[0],), k, device=device, dtype=torch.long) if k is not None else None
        images = generator(z, labels, truncation_psi=truncation_psi, noise_mode="const").float().clamp(-1, 1)
        grids[k] = _image_grid(images.cpu(), columns)
    return grids


class StyleGAN2Preview:
    """The previews of a StyleGAN2 run: the phase's loss curves and ``samples_class<k>.png`` (``samples.png``).

    Same contract as ``monai_synth.engines.progress.PhasePreview`` (``files()``, ``__call__(history, iteration,
    writer)``), so ``TrainingPhase`` refreshes it every ``preview_every`` epochs and at the end.

    Args:
        folder: the run folder.
        generator: the EMA generator the grids are drawn from.
        rows / columns / seed: grid shape and the seed of its latents (the same at every refresh).
    """

    def __init__(self, folder: str | Path, generator: StyleGAN2Generator, rows: int = 4, columns: int = 8,
                 seed: int = 0) -> None:  # fmt: skip
        self.folder, self.generator = Path(folder), generator
        self.rows, self.columns, self.seed = int(rows), int(columns), int(seed)
        self.curves = PhasePreview(self.folder, "stylegan2")

    def grid_files(self) -> list[Path]:
        """The sample grid files, one per shown class (``samples.png`` when unconditional)."""
        n = int(self.generator.num_classes)
        shown = report_classes(n, self.rows * self.columns)[0] if n else []
        return [self.folder / f"samples_class{k}.png" for k in shown] or [self.folder / "samples.png"]

    def files(self) -> list[Path]:
        return [*self.curves.files(), *self.grid_files()]

    def __call__(self, history: dict, iteration: int, writer) -> list[Path]:
        """Refresh the loss curves and the grids (EMA generator, fixed latents); return the files written."""
        written = self.curves(history, iteration, writer)
        grids = class_sample_grids(self.generator, self.rows, self.columns, self.seed)
        for k, grid in grids.items():
            path = Path(write_png(grid, self.folder / (f"samples_class{k}.png" if k is not None else "samples.png")))
            written.append(path)
            if writer is not None:
                writer.add_image(f"samples/{path.stem}", (grid + 1) / 2, iteration)
        if writer is not None:
            writer.flush()
        return written
