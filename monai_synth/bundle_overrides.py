"""Refuse ``--key value`` overrides of ``python -m monai.bundle run`` that name no key of the config.

MONAI adds an unknown override to the config silently, so ``--num_sampels 3`` ran with the default number of
samples. The override ids are read from the command line (as ``fire`` passes them to ``monai.bundle.run``)
and compared with every id of the config files; an unknown one is refused with the nearest valid ids.
"""

from __future__ import annotations

import ast
import difflib
import os
from collections.abc import Iterable, Sequence
from typing import Any

#: keyword arguments of ``monai.bundle.run`` itself, not config ids
RUN_ARGUMENTS = frozenset({
    "config_file", "meta_file", "logging_file", "args_file", "tracking", "workflow_name", "workflow_type",
    "init_id", "run_id", "final_id", "properties_path",
})


class UnknownOverrideError(ValueError):
    """A command-line override names no key of the bundle config."""


def config_ids(config: Any, prefix: str = "") -> set[str]:
    """Every id of a config (``a``, ``a#b``, ``a#0``...), as ``monai.bundle`` addresses them."""
    ids = set()
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else []
    for key, value in items:
        cid = f"{prefix}#{key}" if prefix else str(key)
        ids.add(cid)
        ids |= config_ids(value, cid)
    return ids


def reference_ids(config: Any, prefix: str = "") -> set[str]:
    """Ids whose value is a plain ``@other`` reference: wiring, whose setting lives at ``other``."""
    ids = set()
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else []
    for key, value in items:
        cid = f"{prefix}#{key}" if prefix else str(key)
        if isinstance(value, str) and value.startswith("@"):
            ids.add(cid)
        ids |= reference_ids(value, cid)
    return ids


def override_ids(argv: Sequence[str]) -> dict[str, str | None]:
    """``{id: value}`` of the ``--id value`` / ``--id=value`` pairs after ``run`` on a command line."""
    args = list(argv[argv.index("run") + 1 :]) if "run" in argv else list(argv[1:])
    found: dict[str, str | None] = {}
    for i, token in enumerate(args):
        if not token.startswith("--") or token == "--":
            continue
        key, eq, value = token[2:].partition("=")
        nxt = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else None
        found[key.replace("::", "#")] = value if eq else nxt
    return found


def _config_files(value: str | None) -> list[str]:
    if not value:
        return []
    text = value.strip()
    if text.startswith(("[", "(")):
        return [str(v) for v in ast.literal_eval(text)]
    return [v for v in text.split(",") if v]


def check_overrides(ids: Iterable[str], config_files: Sequence[str | os.PathLike]) -> None:
    """Raise ``UnknownOverrideError`` for an id that no config file defines, naming the nearest valid ids."""
    from monai.bundle import ConfigParser

    config = ConfigParser.load_config_files([str(f) for f in config_files])
    known = config_ids(config)
    suggestible = sorted(known - reference_ids(config))  # point at the setting, not at the wire that reads it
    unknown = [i for i in ids if i not in RUN_ARGUMENTS and i not in known]
    if not unknown:
        return
    problems = []
    for key in unknown:
        near = difflib.get_close_matches(key, suggestible, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join('--' + n for n in near)}?" if near else "no similar key"
        problems.append(f"--{key} ({hint})")
    files = ", ".join(str(f) for f in config_files)
    raise UnknownOverrideError(f"{files}: unknown override {'; '.join(problems)}. The config has no such key, "
                               "so the setting would be ignored.")


def check_command_line(argv: Sequence[str]) -> None:
    """Check the overrides of a ``python -m monai.bundle run`` command line (other programs: nothing to check)."""
    if not argv or not os.path.normpath(argv[0]).endswith(os.path.join("monai", "bundle", "__main__.py")):
        return
    overrides = override_ids(argv)
    check_overrides(overrides, _config_files(overrides.get("config_file")))
