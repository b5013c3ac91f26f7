"""What a user sees while a phase trains: a rate and an ETA in the log, previews refreshed every N epochs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from monai_synth.engines.figures import plot_losses
from monai_synth.io import write_png


class ProgressClock:
    """Iterations per second of this process and the time left, from the iteration the process started at."""

    def __init__(self, total: int) -> None:
        self.total = int(total)
        self.start_iteration: int | None = None
        self.start_time = 0.0

    def begin(self, iteration: int) -> None:
        """Start counting at ``iteration`` (0, or the iteration a resume starts from)."""
        self.start_iteration, self.start_time = int(iteration), time.perf_counter()

    def iterations_run(self, iteration: int) -> int:
        """Iterations done by this process (not those restored from a checkpoint)."""
        return iteration - (self.start_iteration or 0)

    def rate(self, iteration: int) -> float:
        """Iterations per second since ``begin``."""
        elapsed = time.perf_counter() - self.start_time
        return self.iterations_run(iteration) / elapsed if elapsed > 0 else 0.0

    def eta(self, iteration: int) -> str:
        """Time left as ``H:MM:SS`` at the current rate ("?" before the first measured iteration)."""
        rate = self.rate(iteration)
        if rate <= 0:
            return "?"
        return format_seconds((self.total - iteration) / rate)


def format_seconds(seconds: float) -> str:
    """``3725.2`` -> ``"1:02:05"``."""
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class PhasePreview:
    """Write a phase's loss curves (and a sample grid when a sampler is given) to disk and TensorBoard.

    Args:
        folder: where ``<name>_loss_curves.png`` and ``<name>_samples.png`` are (re)written.
        name: the phase name.
        sample_grid: returns an image grid (C, H, W) in [-1, 1] of the current model, or None.
    """

    def __init__(self, folder: str | Path, name: str, sample_grid: Callable[[], torch.Tensor] | None = None) -> None:
        self.folder, self.name, self.sample_grid = Path(folder), name, sample_grid

    def files(self) -> list[Path]:
        """The files a preview (re)writes."""
        grid = [self.folder / f"{self.name}_samples.png"] if self.sample_grid is not None else []
        return [self.folder / f"{self.name}_loss_curves.png", *grid]

    def __call__(self, history: dict, iteration: int, writer) -> list[Path]:
        """Refresh the previews from ``history`` (a ``LossHistory`` state dict); return the files written."""
        written = []
        curves = plot_losses({self.name: history}, self.folder / f"{self.name}_loss_curves.png")
        if curves is not None:
            written.append(curves)
            _add_png(writer, f"{self.name}/loss_curves", curves, iteration)
        if self.sample_grid is not None:
            grid = self.sample_grid().detach().float().cpu()
            path = write_png(grid, self.folder / f"{self.name}_samples.png")
            written.append(Path(path))
            if writer is not None:
                writer.add_image(f"{self.name}/samples", ((grid + 1) / 2).clamp(0, 1), iteration)
        if writer is not None:
            writer.flush()
        return written


def _add_png(writer, tag: str, path: Path, step: int) -> None:
    if writer is None:
        return
    import numpy as np
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    writer.add_image(tag, image, step, dataformats="HWC")


def tile(images: torch.Tensor, columns: int = 8, pad: int = 2) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> one (C, H', W') grid with ``pad`` pixels of -1 between images."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    grid = torch.full((c, rows * (h + pad) - pad, columns * (w + pad) - pad), -1.0)
    for k, image in enumerate(images.detach().float().cpu().clamp(-1, 1)):
        r, col = divmod(k, columns)
        grid[:, r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = image
    return grid
