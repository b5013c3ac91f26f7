"""Where the bundle configs are, and the defaults they hold.

The bundle configs (``bundles/<name>/*.json``) are the one place a default lives. Code that needs a default of a
run-folder config (an exported bundle's ``inference.json``, a loader called without a setting) reads it here
from the config itself instead of keeping a copy.
"""

from __future__ import annotations

import json
import os
import site
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["BUNDLES", "BUNDLES_ENV", "bundle_file", "bundle_roots", "config_defaults"]

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


def config_defaults(bundle: str, name: str, keys: Sequence[str]) -> dict[str, Any]:
    """The values of ``keys`` in the bundle config ``<bundle>/<name>``, as written there (plain JSON values).

    Raises:
        FileNotFoundError: the config is not found (see :func:`bundle_file`).
        KeyError: a key is not in the config (the message names both).
    """
    path = bundle_file(bundle, name)
    config = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in keys if k not in config]
    if missing:
        raise KeyError(f"{path} has no {', '.join(missing)}")
    return {k: config[k] for k in keys}
