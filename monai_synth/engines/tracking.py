"""Experiment tracking handlers (``--tracking mlflow``) get a run's settings and files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["share_run_details"]


def share_run_details(handler: Any, params: Mapping[str, Any], artifacts: Sequence[Path]) -> None:
    """Give a tracking handler the run's settings and files where it takes them and has none of its own.

    MONAI's ``MLFlowHandler`` takes ``experiment_param`` (logged as parameters at start) and ``artifacts``
    (files logged at completion); ``--tracking mlflow`` builds it with neither set to our run.
    """
    if hasattr(handler, "experiment_param") and not handler.experiment_param:
        handler.experiment_param = {k: _param_text(v) for k, v in params.items()}
    if hasattr(handler, "artifacts"):
        handler.artifacts = tuple(a for a in handler.artifacts if a) + tuple(str(a) for a in artifacts)


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."
