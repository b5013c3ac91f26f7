"""Run a bundle config in this process, timed, and read its effective settings.

The comparison drives the bundles exactly as a user would (``python -m monai.bundle run --config_file ...``),
so what it measures is what the bundles do; only the keys it sets (data, size, length, device) differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def explicit_none(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``None`` values as the expression ``"$None"``: ``monai.bundle.run`` silently drops None overrides."""
    return {key: "$None" if value is None else value for key, value in overrides.items()}


def run_bundle(config_files: Path | Sequence[Path], overrides: Mapping[str, Any]) -> float:
    """``monai.bundle.run`` with ``overrides`` (None values kept); return its wall-clock seconds."""
    from monai.bundle import run

    files = [str(config_files)] if isinstance(config_files, Path) else [str(p) for p in config_files]
    start = time.perf_counter()
    logger.info("running %s with %s", ", ".join(files), dict(overrides))
    run(config_file=files if len(files) > 1 else files[0], **explicit_none(overrides))
    return time.perf_counter() - start


def read_setting(config_file: Path, key: str, overrides: Mapping[str, Any]) -> Any:
    """The value of ``key`` in ``config_file`` once ``overrides`` apply (expressions evaluated)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(config_file))
    parser.update(explicit_none(overrides))
    return parser.get_parsed_content(key)
