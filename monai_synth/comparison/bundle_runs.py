"""Run a bundle config in this process, timed, and read its effective settings.

The comparison drives the bundles exactly as a user would (``python -m monai.bundle run --config_file ...``),
so what it measures is what the bundles do; only the keys it sets (data, size, length, device) differ.
"""

from __future__ import annotations

import logging
import os
import site
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Environment variable naming a ``bundles/`` folder to use instead of the installed or checked-out one.
BUNDLES_ENV = "MONAI_SYNTH_BUNDLES"
#: The checkout's ``bundles/`` (present for a clone and an editable install).
BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def bundle_roots() -> list[Path]:
    """Folders searched for the bundles, in order.

    ``$MONAI_SYNTH_BUNDLES``; the checkout's ``bundles/``; then ``share/monai_synth/bundles`` under the
    installation prefixes, where ``pip install .`` puts the configs (setup.cfg ``data_files``): the
    environment's data path, ``sys.prefix``, the user base (``pip install --user``).
    """
    roots = [Path(os.environ[BUNDLES_ENV])] if os.environ.get(BUNDLES_ENV) else []
    prefixes = [sysconfig.get_path("data"), sys.prefix, getattr(site, "USER_BASE", None) or ""]
    roots.append(BUNDLES)
    roots += [Path(p) / "share" / "monai_synth" / "bundles" for p in dict.fromkeys(prefixes) if p]
    return roots


def bundle_file(bundle: str, name: str) -> Path:
    """The config ``<bundle>/<name>`` from the first of :func:`bundle_roots` that holds it.

    Raises:
        FileNotFoundError: no searched folder holds it; the message lists where it looked.
    """
    roots = bundle_roots()
    for root in roots:
        path = root / bundle / name
        if path.is_file():
            return path
    looked = ", ".join(str(root) for root in roots)
    raise FileNotFoundError(f"bundle config {bundle}/{name} not found (looked in: {looked}); reinstall monai_synth "
                            f"with pip, run from a checkout, or set {BUNDLES_ENV} to a folder of bundles")


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
