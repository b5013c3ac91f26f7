"""Run a bundle config in this process and SIGKILL it after iteration ``k`` of its ``n``-th Ignite engine run.

Usage: ``python kill_harness.py CONFIG_FILE ENGINE_INDEX ITERATION JSON_OVERRIDES``. ENGINE_INDEX counts the
``Engine.run`` calls of the process from 1 (Medfusion: 1 = autoencoder, 2 = diffusion). The kill happens after
every other handler of that iteration, checkpoints included, as a power cut or an OOM killer would.
Used by ``test_kill_resume.py`` only.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from ignite.engine import Engine, Events


def _patch(engine_index: int, iteration: int) -> None:
    original = Engine.run
    calls = [0]

    def run(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == engine_index:
            self.add_event_handler(Events.ITERATION_COMPLETED(once=iteration), lambda _: os.kill(os.getpid(), signal.SIGKILL))
        return original(self, *args, **kwargs)

    Engine.run = run


if __name__ == "__main__":
    config, index, it, overrides = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    _patch(index, it)
    import torch

    torch.set_num_threads(1)  # as the test process (tests/conftest.py): thread count changes float rounding
    from monai.bundle import run as bundle_run

    bundle_run(config_file=config, **overrides)
