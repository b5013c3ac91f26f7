"""Load the exported bundle an application runs, refusing a folder that is not one or is for another task."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError

__all__ = ["RESTORE_TASKS", "load_app_bundle"]

RESTORE_TASKS = ("sr", "denoise")
"""Med-cDiff tasks the restore application runs (inpainting needs a mask per image, which a study lacks)."""


def load_app_bundle(bundle_dir: str | os.PathLike, kinds: Sequence[str], tasks: Sequence[str] | None = None,
                    device: str = "cpu") -> Any:
    """The :class:`~monai_synth.export.ExportedBundle` in ``bundle_dir``, checked for the application.

    Args:
        bundle_dir: an exported bundle (``monai-synth export``).
        kinds: model kinds the application runs (e.g. ``("med_cdiff",)``).
        tasks: Med-cDiff tasks it runs (None: any).
        device: torch device.

    Raises:
        DataError: not an exported bundle, or one of another kind or task (naming the folder).
    """
    from monai_synth.export import load_exported  # lazy: no torch before SDK set-up
    from monai_synth.io.model_bundle import is_exported_bundle, read_bundle_settings  # lazy: no torch before SDK set-up

    path = Path(bundle_dir)
    if not is_exported_bundle(path):
        raise DataError("not an exported bundle (expected configs/inference.json and models/model.pt; "
                        "make one with `monai-synth export RUN_DIR OUT_DIR`)", path)
    try:
        settings = read_bundle_settings(path)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the bundle's settings ({err})", path) from err
    kind, task = settings.get("kind"), settings.get("task")
    if kind not in kinds:
        raise DataError(f"bundle of a {kind} model; this application needs {' or '.join(kinds)}", path)
    if tasks is not None and task not in tasks:
        raise DataError(f"bundle exported for task {task!r}; this application runs {list(tasks)}", path)
    try:
        return load_exported(path, device)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise DataError(f"cannot load the exported bundle ({type(err).__name__}: {err})", path) from err
