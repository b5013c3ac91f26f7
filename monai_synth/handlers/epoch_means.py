"""Each logged training value's mean over an epoch, published as ``engine.state.metrics`` for other handlers."""

from __future__ import annotations

from ignite.engine import Engine, Events

__all__ = ["EpochMeans"]


class EpochMeans:
    """Average every number of ``engine.state.output`` (a dict) over an epoch into ``state.metrics["<prefix>/<key>"]``.

    Attach it before handlers that read ``state.metrics`` at the end of an epoch (MLflow, TensorBoard).

    Args:
        prefix: the metric names' prefix (e.g. the phase name).
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.sums: dict[str, list[float]] = {}

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.add)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.publish)

    def add(self, engine: Engine) -> None:
        output = engine.state.output if isinstance(engine.state.output, dict) else {}
        for key, value in output.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total = self.sums.setdefault(key, [0.0, 0])
                total[0] += float(value)
                total[1] += 1

    def publish(self, engine: Engine) -> None:
        for key, (total, count) in self.sums.items():
            engine.state.metrics[f"{self.prefix}/{key}"] = total / count
        self.sums = {}
