"""Fixtures of the transform tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread() -> Iterator[None]:
    """Elementwise ops on 512 x 512 slices take ~0.1 ms on one thread but can take 100x longer when
    torch's thread pool competes for the shared CPUs; the results are the same."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
