"""Find the root folder of the exported bundle being run, so that its config works from any working directory.

Model-zoo bundles set ``"bundle_root": "."`` and need ``--bundle_root`` when run from elsewhere. MONAI's
``ConfigWorkflow.run`` (what ``python -m monai.bundle run`` calls) puts the bundle root (the folder above the
config's ``configs/``) first on ``sys.path`` before it runs the ``run`` expressions, so an exported bundle's
``bundle_root`` is that entry when it holds an exported bundle, else the working directory. ``--bundle_root``
still overrides it.
"""

from __future__ import annotations

import os
import sys

from monai_synth.io.model_bundle import is_exported_bundle

__all__ = ["running_bundle_root"]


def running_bundle_root(default: str = ".") -> str:
    """The first ``sys.path`` entry that is an exported bundle folder (MONAI puts the running one first), else
    ``default`` (the working directory)."""
    for entry in sys.path:
        if entry and is_exported_bundle(entry):
            return os.path.abspath(entry)
    return default
