"""The ``monai-synth`` command.

Subcommands:

- ``inspect PATH [--json]``: what a folder or file holds (DICOM series with modality, slices, size, spacing
  and intensity range; image counts, sizes and classes; NIfTI volumes; datalists; MedMNIST archives).
  Exit status 0 when clean, 1 when it found problems (listed) or the source is unusable.
- ``datalist SOURCE --out FILE.json``: build a datalist once (any source kind, with the same selection
  options as ``build_datalist``) and write it as a MONAI Decathlon-style JSON (``{"training": [...]}``) that
  bundles, ``build_datalist`` and ``monai.data.load_decathlon_datalist`` read back. ``--out`` and
  ``--report`` are refused when they are, or lie inside, an input.
- ``evaluate --real PATH --fake PATH --out DIR ...``: score synthetic images (``monai_synth.metrics.evaluate``).
- ``export RUN_DIR OUT_DIR``: a finished training run as a MONAI bundle in model-zoo layout (``monai_synth.export``).
- ``turing create|serve|report``: a visual Turing test (reader study) web app (``monai_synth.turing``).
- ``compare`` / ``ablate-stylegan2``: models trained at equal compute, one table (``monai_synth.comparison``).
- ``pacs echo|find|pull|push``: talk to a PACS (``monai_synth.deploy.pacs``).
- ``audit SOURCE --out DIR``: memorization and privacy audit of synthetic images (``monai_synth.privacy``).
- ``utility SOURCE --real PATH --out DIR``: downstream utility of synthetic images, or the segmentation utility of
  a Med-cDiff restorer's outputs (``monai_synth.utility``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from monai_synth import __version__
from monai_synth.comparison.commands import add_comparison_commands
from monai_synth.data.errors import DataError
from monai_synth.data.inspect import format_inspection, inspect_source
from monai_synth.deploy.pacs.commands import add_pacs_commands
from monai_synth.export.command import add_arguments, run_export_command
from monai_synth.io.datalist_command import run_datalist_command
from monai_synth.io.output_guard import check_output_dir
from monai_synth.privacy.command import add_audit_command
from monai_synth.turing.commands import add_turing_command
from monai_synth.utility.command import add_utility_command

__all__ = ["main", "build_parser"]

logger = logging.getLogger("monai_synth.cli")


def _add_inspect(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="describe a data folder or file",
                                   description="Describe what a data folder or file holds.")
    parser.add_argument("path", help="folder, DICOM export, DICOMDIR, NIfTI, .csv/.json datalist or .npz")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--axis", type=int, default=2, choices=(0, 1, 2), help="NIfTI slicing axis")
    parser.add_argument("--split", default="train", help="split folder of a train/val/test layout")
    parser.add_argument("--no-intensity", action="store_true",
                        help="DICOM: do not read pixel data for the intensity range (faster)")
    parser.set_defaults(func=_run_inspect)


def _add_datalist(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("datalist", help="build a datalist and write it as JSON",
                                   description="Build a datalist from any source and write it as JSON.")
    parser.add_argument("source", help="folder, DICOM export, NIfTI, .csv/.json datalist or .npz")
    parser.add_argument("--out", required=True, help="JSON file to write (Decathlon-style dict of lists)")
    parser.add_argument("--split", default="train", help="train, val, test or all")
    parser.add_argument("--axis", type=int, default=2, choices=(0, 1, 2), help="NIfTI slicing axis")
    parser.add_argument("--keep-empty", action="store_true", help="NIfTI: keep constant slices")
    parser.add_argument("--modality", action="append", help="DICOM Modality to keep (repeatable)")
    parser.add_argument("--series-description", help="DICOM: case-insensitive text in SeriesDescription")
    parser.add_argument("--series-uid", action="append", help="DICOM SeriesInstanceUID to keep (repeatable)")
    parser.add_argument("--skip-bad", action="store_true", help="skip bad inputs instead of failing")
    parser.add_argument("--report", help="with --skip-bad: write the skipped inputs to this CSV file")
    parser.set_defaults(func=_run_datalist)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score synthetic images against real ones",
                                   description="Score synthetic images against real ones.")
    parser.add_argument("--real", required=True, metavar="PATH", help="real images (any data source)")
    parser.add_argument("--fake", required=True, metavar="PATH", help="synthetic images (any data source)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the scores")
    parser.add_argument("--labels-real", metavar="PATH", help="labels of the real images")
    parser.add_argument("--labels-fake", metavar="PATH", help="labels of the synthetic images")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="batch size")
    parser.add_argument("--device", default=None, metavar="D", help="torch device (default: the evaluator's)")
    parser.add_argument("--real-split", default="test",
                        help="reference split of the real archive/datalist (the same name and default as the "
                             "bundles' real_split)")
    parser.add_argument("--fake-split", default=None, help="split of a synthetic archive/datalist")
    parser.add_argument("--bootstrap", type=int, default=50, metavar="N", help="bootstrap resamples for intervals")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an --out folder that holds images monai-synth did not write")
    parser.add_argument("--seed", type=int, default=0, help="seed of resampling and pair sampling")
    parser.add_argument("--weights", default=None, metavar="PATH", help="Inception weights (TorchScript)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR", help="real-feature cache folder")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    parser.set_defaults(func=_run_evaluate)


def _add_pacs(subparsers: argparse._SubParsersAction) -> None:
    add_pacs_commands(subparsers)


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a finished training run as a MONAI bundle",
                                   description="Export a finished training run as a self-contained MONAI bundle.")
    add_arguments(parser)
    parser.set_defaults(func=run_export_command)


def _add_turing(subparsers: argparse._SubParsersAction) -> None:
    add_turing_command(subparsers)


def _add_audit(subparsers: argparse._SubParsersAction) -> None:
    add_audit_command(subparsers)


def _add_utility(subparsers: argparse._SubParsersAction) -> None:
    add_utility_command(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``monai-synth``."""
    parser = argparse.ArgumentParser(prog="monai-synth", description="Generative models for 2D medical images.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v, -vv)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    _add_inspect(subparsers)
    _add_datalist(subparsers)
    _add_evaluate(subparsers)
    _add_export(subparsers)
    _add_turing(subparsers)
    add_comparison_commands(subparsers)
    _add_pacs(subparsers)
    _add_audit(subparsers)
    _add_utility(subparsers)
    for command in subparsers.choices.values():  # every --help shows the defaults
        command.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    return parser


def _run_inspect(args: argparse.Namespace) -> int:
    info = inspect_source(args.path, axis=args.axis, split=args.split, intensity=not args.no_intensity)
    print(json.dumps(info, indent=2) if args.json else format_inspection(info))
    return 1 if info.get("problems") else 0


def _run_datalist(args: argparse.Namespace) -> int:
    return run_datalist_command(args)


def _run_evaluate(args: argparse.Namespace) -> int:
    check_output_dir(args.out, [args.real, args.fake, args.labels_real, args.labels_fake],
                     overwrite=getattr(args, "overwrite", False))
    try:
        from monai_synth.metrics.evaluate import run_evaluate_cli  # optional: may be left out of an installation
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("monai_synth"):
            print(f"error: evaluation is not available in this installation ({err})", file=sys.stderr)
            return 2
        raise
    result = run_evaluate_cli(args)
    return result if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``monai-synth`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    Bad input (:class:`monai_synth.data.errors.DataError`) is reported as ``error: <file>: <problem>``
    with exit status 1, without a traceback.
    """
    args = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
