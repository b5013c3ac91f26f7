"""Deterministic UIDs for application outputs, so that a re-run (or a retry after a failure) writes the same
instances again and a PACS keeps one copy of each.

A UID is derived from what made the output: the source UID (or the request), the model's SHA-256, the seed
and the settings, hashed into pydicom's UID root (``generate_uid(entropy_srcs=...)``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydicom.uid import generate_uid

__all__ = ["derived_uid", "settings_key"]


def settings_key(settings: Mapping[str, Any]) -> str:
    """A canonical text of ``settings`` (sorted keys), the same for equal settings."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)


def derived_uid(role: str, source: str, model_sha256: str, seed: int | None, settings: Mapping[str, Any]) -> str:
    """A UID for the output ``role`` (e.g. ``"series"``, ``"instance"``, ``"study"``) made from ``source``.

    Equal arguments give the same UID; any different argument gives another one.
    """
    return str(generate_uid(entropy_srcs=[role, source, model_sha256, str(seed), settings_key(settings)]))
