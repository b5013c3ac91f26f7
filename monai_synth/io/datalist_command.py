"""``monai-synth datalist SOURCE --out FILE.json [--report FILE.csv]``: build a datalist and write it.

Neither output may be an input: ``--out`` and ``--report`` are checked against the source (file or
folder) before anything is read, and against every file the datalist lists before anything is written
(:func:`monai_synth.io.output_guard.check_output_path`). Refusals exit with status 1 and one
``error: <path>: <problem>`` line; no input is touched.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from monai_synth.data import build_datalist, detect_source_kind
from monai_synth.data.errors import BadInputReport, DataError
from monai_synth.io.datalist_write import write_datalist_file
from monai_synth.io.output_guard import OutputConflict, check_output_path

__all__ = ["run_datalist_command"]

logger = logging.getLogger(__name__)


def _entry_files(entries: list[dict]) -> list[str]:
    return [e[key] for e in entries for key in ("image", "mask") if isinstance(e.get(key), str)]


def _check_outputs(args: argparse.Namespace, inputs: list[str]) -> None:
    check_output_path(args.out, inputs)
    if args.report:
        check_output_path(args.report, inputs)
        if Path(args.report).resolve() == Path(args.out).resolve():
            raise OutputConflict("--report and --out name the same file", args.report)


def run_datalist_command(args: argparse.Namespace) -> int:
    """Run the ``datalist`` subcommand from its parsed arguments; returns the exit status.

    Raises:
        DataError: unusable source, bad inputs (without ``--skip-bad``) or an output that is an input.
    """
    if detect_source_kind(args.source) == "phantom":
        raise DataError("the phantom is generated in memory; it has no files to list")
    _check_outputs(args, [args.source])
    report = BadInputReport()
    split = None if args.split == "all" else args.split
    entries = build_datalist(
        args.source, split=split, axis=args.axis, skip_empty=not args.keep_empty, modality=args.modality,
        series_description=args.series_description, series_uid=args.series_uid, skip_bad=args.skip_bad,
        report=report)
    _check_outputs(args, [args.source, *_entry_files(entries), *(item.path for item in report)])
    if args.report and report:
        logger.warning("list of skipped inputs written to %s", report.write(args.report))
    write_datalist_file(entries, args.out, split)
    print(f"{len(entries)} entries written to {args.out}" + (f" ({len(report)} bad inputs skipped)" if report else ""))
    return 0
