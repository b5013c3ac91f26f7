"""Command line of the two applications: ``-i IN -o OUT -m BUNDLE_DIR``, the SDK's way, plus a few options.

The bundle, the input and the output folder are checked before anything starts, so that bad input gives
one ``error: ...`` line and exit status 1. The app then runs on the App SDK (``--sdk auto``: when it is
installed) or on the same operator code without it (``--sdk no``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError
from monai_synth.deploy.bundle import RESTORE_TASKS, load_app_bundle
from monai_synth.deploy.request import read_request
from monai_synth.deploy.restore_study import restore_study_folder
from monai_synth.deploy.runtime import raise_stack_limit_and_restart, require_sdk
from monai_synth.deploy.selection import load_rules
from monai_synth.deploy.synthesize_study import synthesize_study

__all__ = ["main"]

logger = logging.getLogger("monai_synth.deploy")

_KINDS = {"restore": ("med_cdiff",), "synthesize": ("medfusion", "stylegan2_ada")}


def _parser(app: str) -> argparse.ArgumentParser:
    import importlib

    what = "DICOM study folder" if app == "restore" else "request JSON file"
    parser = argparse.ArgumentParser(prog=f"python -m monai_synth.deploy.{app}",
                                     description=importlib.import_module(f"monai_synth.deploy.{app}").__doc__)
    parser.add_argument("-i", "--input", required=True, help=what)
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("-m", "--model", required=True, help="exported bundle folder (monai-synth export)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--sdk", choices=("auto", "yes", "no"), default="auto",
                        help="run on the MONAI Deploy App SDK: auto (when installed), yes, or no")
    if app == "restore":
        parser.add_argument("--rules", help="selection rules JSON (default: the CT series, else the MR series)")
        parser.add_argument("--seed", type=int, default=0, help="slice i uses seed + i (default 0)")
        parser.add_argument("--batch-size", type=int, default=4, help="slices per batch (default 4)")
    return parser


def _check_paths(app: str, args: argparse.Namespace) -> None:
    """Refuse a missing input, and an output folder inside the input folder."""
    source = Path(args.input)
    if app == "restore" and not source.is_dir():
        raise DataError("input must be a DICOM study folder", source)
    if app == "synthesize" and not source.is_file():
        raise DataError("input must be a request JSON file", source)
    folder, out = source.resolve() if source.is_dir() else source.resolve().parent, Path(args.output).resolve()
    if app == "restore" and (out == folder or folder in out.parents):
        raise DataError(f"output folder {args.output} is or lies inside the input folder (inputs are never modified)",
                        source)


def _sdk_installed() -> bool:
    """Whether the SDK's distribution is installed (without importing it)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("monai-deploy-app-sdk")
    except PackageNotFoundError:
        return False
    return True


def _sdk_wanted(choice: str) -> bool:
    """Whether to run on the SDK."""
    if choice == "no":
        return False

    try:
        require_sdk()
    except ImportError:
        if choice == "yes":
            raise
        logger.warning("MONAI Deploy App SDK not installed: running the same operators without it")
        return False
    return True


def _run_sdk(app: str, args: argparse.Namespace, bundle: Any, rules: Any) -> Path | None:
    """Run the SDK application; returns what its operator wrote."""
    argv = [sys.executable, f"monai_synth.deploy.{app}", "-i", args.input, "-o", args.output, "-m", args.model]
    if app == "restore":
        from monai_synth.deploy.restore.app import RestoreApp  # optional: monai.deploy (App SDK)

        application: Any = RestoreApp(argv)
        application.bundle, application.rules = bundle, rules
        application.options = {"seed": args.seed, "device": args.device, "batch_size": args.batch_size}
    else:
        from monai_synth.deploy.synthesize.app import SynthesizeApp  # optional: monai.deploy (App SDK)

        application = SynthesizeApp(argv)
        application.bundle = bundle
    application.run()
    operator = getattr(application, "restorer_op" if app == "restore" else "synthesizer_op", None)
    return getattr(operator, "written", None)


def _run_plain(app: str, args: argparse.Namespace, bundle: Any, rules: Any) -> Path:
    """Run the same operator code without the SDK."""
    if app == "restore":
        return restore_study_folder(args.input, bundle, args.output, rules, seed=args.seed, device=args.device,
                                    batch_size=args.batch_size)

    return synthesize_study(read_request(args.input), bundle, args.output)


def _run(app: str, args: argparse.Namespace) -> int:
    _check_paths(app, args)
    if args.sdk != "no" and _sdk_installed():
        raise_stack_limit_and_restart()  # before anything is imported: Holoscan's threads need the stack
    use_sdk = _sdk_wanted(args.sdk)
    rules = load_rules(args.rules) if app == "restore" else None
    if app == "synthesize":
        read_request(args.input)  # a bad request fails before the model is loaded
    bundle = load_app_bundle(args.model, _KINDS[app], RESTORE_TASKS if app == "restore" else None, device=args.device)
    written = _run_sdk(app, args, bundle, rules) if use_sdk else _run_plain(app, args, bundle, rules)
    if written is None:
        raise RuntimeError("the application stopped before writing its output (see the log above)")
    print(f"{'derived series' if app == 'restore' else 'synthetic study'} written to {written}")
    return 0


def main(app: str, argv: Sequence[str] | None = None) -> int:
    """Run the application ``app`` ("restore" or "synthesize"); returns the exit status."""
    args = _parser(app).parse_args(argv)
    logging.basicConfig(level=os.environ.get("MONAI_SYNTH_LOG_LEVEL", "WARNING"),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(app, args)
    except (DataError, ImportError, ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
