"""Read back what ``--tracking mlflow`` recorded, with MLflow's own client, from a local store in a test folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def tracking_overrides(folder: Path) -> dict[str, Any]:
    """Overrides that make ``--tracking mlflow`` write to a local SQLite store and artifact folder in ``folder``."""
    pytest.importorskip("mlflow")
    return {"tracking": "mlflow", "tracking_uri": f"sqlite:///{folder / 'mlruns.db'}", "experiment_name": "test"}


def recorded_runs(folder: Path) -> list[Any]:
    """Every MLflow run of the test experiment, read back with ``mlflow.tracking.MlflowClient``."""
    mlflow = pytest.importorskip("mlflow")
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlruns.db'}")
    experiment = client.get_experiment_by_name("test")
    assert experiment is not None, "no MLflow experiment was created"
    return client.search_runs([experiment.experiment_id])


def artifact_names(folder: Path, run: Any) -> set[str]:
    """File names of a run's artifacts (MLflow's local artifact store keeps them as plain files)."""
    mlflow = pytest.importorskip("mlflow")
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlruns.db'}")
    local = Path(client.download_artifacts(run.info.run_id, "", str(folder / f"artifacts_{run.info.run_id}")))
    return {p.name for p in local.rglob("*") if p.is_file()}


def metric_steps(folder: Path, run: Any, key: str) -> list[int]:
    """The steps at which a metric was logged."""
    mlflow = pytest.importorskip("mlflow")
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlruns.db'}")
    return sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
