"""The bundle every finished training writes, wired in each ``train.json`` after the trainer's ``run``.

``<output_dir>/bundle`` for Medfusion and StyleGAN2-ADA, ``<output_dir>/bundle_<model>`` for Med-cDiff (several
models can share one run folder); replaced on every finish. The training configs call it rather than the trainers,
so the engines do not depend on this package (it depends on them).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["TrainingExport", "export_after_training"]

logger = logging.getLogger("monai_synth")


def export_after_training(output_dir: str | os.PathLike, model: str | None = None) -> Path | None:
    """Export the run in ``output_dir`` to its bundle folder; return it, or None when the export failed.

    A failed export is logged with the command that retries it, and does not fail the finished training.
    """
    from monai_synth.export.writer import export_run

    out = Path(output_dir) / (f"bundle_{model}" if model else "bundle")
    try:
        return export_run(output_dir, out, model=model, replace=True)
    except Exception as err:  # noqa: BLE001 - the training's weights are written; the export can be redone
        logger.error("could not export %s as a bundle (%s); retry with: monai-synth export %s NEW_FOLDER",
                     output_dir, err, output_dir)
        return None


class TrainingExport:
    """``train.json``'s last step: export the finished run (on rank 0 only in a multi-process run).

    Args:
        output_dir: the run folder.
        model: Med-cDiff's trained model; None for the other bundles.
    """

    def __init__(self, output_dir: str, model: str | None = None) -> None:
        self.output_dir, self.model = output_dir, model

    def run(self) -> Path | None:
        """Write the bundle; None on ranks other than 0 or when the export failed."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return None
        return export_after_training(self.output_dir, self.model)
