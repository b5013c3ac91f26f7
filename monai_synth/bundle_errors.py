"""What a user sees when a bundle run fails: one line naming the problem first, then the traceback.

MONAI wraps an error raised inside a config expression in "Failed to evaluate ConfigExpression", so the
useful message (the file, the key, the value) sits in the middle of a 40-75 line traceback.
``prepare_bundle_run()``, the first ``initialize`` step of every bundle config, installs an exception hook
that prints ``error: <the innermost message>`` before the traceback, and refuses ``--key`` overrides that
name no key of the config (see ``monai_synth.bundle_overrides``). The command stays
``python -m monai.bundle run --config_file ...``.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from monai_synth.bundle_overrides import check_command_line

_WRAPPERS = ("Failed to evaluate ConfigExpression", "Failed to instantiate", "component")


def innermost(error: BaseException) -> BaseException:
    """The error at the bottom of a chain of causes (MONAI's wrappers skipped)."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        nxt = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if nxt is None:
            break
        error = nxt
    return error


def summary(error: BaseException) -> str:
    """One line: ``error: <type>: <message>`` of the innermost error, with the failing expression if wrapped."""
    inner = innermost(error)
    message = " ".join(str(inner).split()) or type(inner).__name__
    line = f"error: {message}" if isinstance(inner, ValueError) else f"error: {type(inner).__name__}: {message}"
    outer = " ".join(str(error).split())
    if inner is not error and outer.startswith(_WRAPPERS):
        line += f" (in {outer.split(':', 1)[-1].strip()})"
    return line


def _hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    sys.stderr.write(summary(error) + "\n")
    sys.stderr.write("".join(traceback.format_exception(kind, error, tb)))
    sys.stderr.write(summary(error) + "\n")  # and again at the end, where the eye lands
    sys.stderr.flush()


def install_hook() -> None:
    """Make uncaught errors print their one-line summary before (and after) the traceback."""
    sys.excepthook = _hook


def prepare_bundle_run() -> None:
    """First ``initialize`` step of the bundles: install the hook, check ``--key`` overrides of the command line.

    Raises:
        monai_synth.bundle_overrides.UnknownOverrideError: an override names no key of the config.
    """
    install_hook()
    check_command_line(sys.argv)
