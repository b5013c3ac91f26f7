"""Experiment tracking handlers (``--tracking mlflow``) get a run's settings and files."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["share_run_details", "prepare_tracking_handler"]


def share_run_details(handler: Any, params: Mapping[str, Any], artifacts: Sequence[Path]) -> None:
    """Give a tracking handler the run's settings and files where it takes them and has none of its own.

    MONAI's ``MLFlowHandler`` takes ``experiment_param`` (logged as parameters at start) and ``artifacts``
    (files logged at completion); ``--tracking mlflow`` builds it with neither set to our run.
    """
    if hasattr(handler, "experiment_param") and not handler.experiment_param:
        handler.experiment_param = {_param_name(k): _param_text(v) for k, v in params.items()}
    if hasattr(handler, "artifacts"):
        handler.artifacts = tuple(a for a in handler.artifacts if a) + tuple(str(a) for a in artifacts)


def _param_name(key: str) -> str:
    """A config id as an MLflow parameter name: ``optimizer#lr`` -> ``optimizer.lr`` (MLflow refuses ``#``)."""
    return key.replace("#", ".")


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def prepare_tracking_handler(
    handler: Any, params: Mapping[str, Any], artifacts: Sequence[Path], keep_open: bool = False
) -> None:
    """Make a MONAI handler (``MLFlowHandler``...) work on a training phase of ours.

    - settings and files: see :func:`share_run_details`;
    - our steps return one dict of floats (``{"loss": ..., ...}``) where MONAI's engines return a decollated
      list of dicts, so a MONAI handler's ``output_transform`` (``from_engine(["loss"], first=True)``) sees
      ``[output]``;
    - ``keep_open``: a phase that another phase follows (Medfusion's autoencoder) does not close the tracking
      run, so one training is one run.
    """
    if not type(handler).__module__.startswith("monai.handlers"):
        return
    share_run_details(handler, params, artifacts)
    transform = getattr(handler, "output_transform", None)
    if transform is not None and not getattr(transform, "as_decollated", False):
        handler.output_transform = _as_decollated(transform)
    if hasattr(handler, "close_on_complete"):
        if not hasattr(handler, "closes_at_end"):
            handler.closes_at_end = bool(handler.close_on_complete)
        handler.close_on_complete = handler.closes_at_end and not keep_open


def _as_decollated(transform: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(output: Any) -> Any:
        return transform([output] if isinstance(output, Mapping) else output)

    wrapped.as_decollated = True  # type: ignore[attr-defined]
    return wrapped
