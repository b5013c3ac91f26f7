"""Run the diffusion tests single-threaded.

The samplers loop over many steps of small tensors; on a small shared CPU, OpenMP's thread start-up and
contention make some element-wise ops (exp, sqrt) ~1000x slower with 2 threads than with 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
