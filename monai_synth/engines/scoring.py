"""An evaluation as an Ignite engine of one iteration, so that handlers attach to it as to any MONAI evaluator.

``bundles/*/evaluate.json`` build one ``ScoringRun`` with their ``handlers`` list. ``--tracking mlflow``
appends MONAI's ``MLFlowHandler`` there: it then records the run's settings as parameters, every numeric score
as a metric and the written files (``metrics.json``, ``report.html``, tables, figures) as artifacts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from monai_synth.engines.tracking import share_run_details

__all__ = ["ScoringRun", "flat_numbers"]


def flat_numbers(scores: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite number of a nested score dict, keyed by its path (``sr_x4/diffusion/psnr``)."""
    out: dict[str, float] = {}
    for key, value in scores.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_numbers(value, prefix=f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
    return out


class ScoringRun(Engine):
    """Run ``score()`` once, as one iteration; its numeric results become ``state.metrics``.

    Args:
        score: the evaluation, called without arguments; returns a (nested) dict of scores.
        output_dir: the folder the evaluation writes; its files are given to tracking handlers as artifacts.
        handlers: handlers with ``attach(engine)`` (e.g. MONAI's ``MLFlowHandler`` added by ``--tracking``).
        params: the evaluation's settings, given to tracking handlers as experiment parameters.
    """

    def __init__(
        self,
        score: Callable[[], Mapping[str, Any]],
        output_dir: str | Path,
        handlers: Sequence[Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(self._process)
        self.score = score
        self.output_dir = Path(output_dir)
        self.params = dict(params or {})
        self.scores: dict[str, Any] = {}
        self.add_event_handler(Events.ITERATION_COMPLETED, self._publish)
        for handler in handlers or ():
            share_run_details(handler, self.params, [self.output_dir])
            handler.attach(self)

    def _process(self, engine: Engine, batch: Any) -> dict[str, Any]:
        self.scores = dict(self.score())
        return self.scores

    def _publish(self, engine: Engine) -> None:
        engine.state.metrics.update(flat_numbers(self.scores))

    def run(self) -> dict[str, Any]:  # type: ignore[override]
        """Score once; return the scores."""
        super().run([0], max_epochs=1)
        return self.scores
