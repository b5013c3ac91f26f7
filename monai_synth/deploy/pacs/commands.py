"""The ``monai-synth pacs echo|find|pull|push`` subcommands.

Every failure (PACS unreachable, association rejected, a refused store, a bad option or config file) is
printed as one ``error: ...`` line with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from monai_synth.data.errors import DataError
from monai_synth.deploy.pacs.config import TlsFiles, load_pacs_config
from monai_synth.deploy.pacs.echo import echo
from monai_synth.deploy.pacs.errors import PacsError
from monai_synth.deploy.pacs.find import find
from monai_synth.deploy.pacs.pull import pull
from monai_synth.deploy.pacs.push import push_folder

__all__ = ["add_pacs_commands"]


def _connection_options(parser: argparse.ArgumentParser) -> None:
    """Options naming the PACS (over a config file's values)."""
    group = parser.add_argument_group("PACS (options win over --config)")
    group.add_argument("--config", metavar="FILE", help="JSON or YAML file with host, port, called_aet, ...")
    group.add_argument("--host", help="PACS host (default 127.0.0.1)")
    group.add_argument("--port", type=int, help="PACS DICOM port (default 4242)")
    group.add_argument("--aec", "--called-aet", dest="called_aet", help="PACS AE title (default ORTHANC)")
    group.add_argument("--aet", "--calling-aet", dest="calling_aet", help="our AE title (default MONAI_SYNTH)")
    group.add_argument("--timeout", type=float, help="seconds to wait for the PACS (default 30)")
    group.add_argument("--tls", action="store_true", help="DICOM over TLS (system CAs unless --tls-ca)")
    group.add_argument("--tls-ca", metavar="PEM", help="CA bundle to verify the PACS")
    group.add_argument("--tls-cert", metavar="PEM", help="our client certificate (mutual TLS)")
    group.add_argument("--tls-key", metavar="PEM", help="the client certificate's key")


def _config(args: argparse.Namespace) -> Any:
    """The PACS config of the command line."""
    tls = None
    if args.tls or args.tls_ca or args.tls_cert:
        tls = TlsFiles(ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key)
    return load_pacs_config(args.config, host=args.host, port=args.port, called_aet=args.called_aet,
                            calling_aet=args.calling_aet, timeout=args.timeout, tls=tls)


def _run_echo(args: argparse.Namespace) -> int:
    config = _config(args)
    seconds = echo(config)
    print(f"C-ECHO {config.name}: success ({seconds * 1000:.0f} ms)")
    return 0


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Matches as JSON or as ``key=value`` lines."""
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items() if v is not None))
    print(f"{len(rows)} match{'es' if len(rows) != 1 else ''}")


def _run_find(args: argparse.Namespace) -> int:
    match = dict(item.split("=", 1) for item in args.match or [])
    if args.study:
        match["StudyInstanceUID"] = args.study
    if args.level == "series" and "StudyInstanceUID" not in match:
        print("error: a series-level find needs --study UID", file=sys.stderr)
        return 2
    _print_rows(find(_config(args), args.level.upper(), match), args.json)
    return 0


def _run_pull(args: argparse.Namespace) -> int:
    files = pull(_config(args), args.out, args.study, args.series, overwrite=args.overwrite)
    print(f"{len(files)} instances written to {args.out}")
    return 0


def _run_push(args: argparse.Namespace) -> int:
    report = push_folder(_config(args), args.folder)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for path, reason in report.failed:
        print(f"error: {path}: {reason}", file=sys.stderr)
    print(f"{len(report.sent)} sent, {len(report.skipped)} skipped, {len(report.failed)} failed")
    return 0 if report.ok else 1


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``run`` with PACS, data and value errors printed as one line (exit status 1)."""

    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (PacsError, DataError, ValueError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1

    return guarded


def add_pacs_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pacs`` with its ``echo``, ``find``, ``pull`` and ``push`` subcommands."""
    pacs = subparsers.add_parser("pacs", help="talk to a PACS (C-ECHO, C-FIND, C-GET, C-STORE)",
                                 description="Talk to a PACS over DICOM networking (pynetdicom).")
    commands = pacs.add_subparsers(dest="pacs_command", metavar="ACTION")
    commands.required = True
    echo = commands.add_parser("echo", help="C-ECHO: check the PACS accepts us")
    find = commands.add_parser("find", help="C-FIND studies or series")
    find.add_argument("--level", choices=("study", "series"), default="study", help="query level")
    find.add_argument("--study", metavar="UID", help="StudyInstanceUID to match (needed for series)")
    find.add_argument("--match", action="append", metavar="KEY=VALUE",
                      help="attribute to match, e.g. PatientID=123 or Modality=CT (repeatable)")
    find.add_argument("--json", action="store_true", help="print JSON")
    pull = commands.add_parser("pull", help="C-GET a study (or series) into a folder")
    pull.add_argument("--study", required=True, metavar="UID", help="StudyInstanceUID")
    pull.add_argument("--series", metavar="UID", help="only this SeriesInstanceUID")
    pull.add_argument("--out", required=True, metavar="DIR", help="output folder (empty, or --overwrite)")
    pull.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder's content")
    push = commands.add_parser("push", help="C-STORE every DICOM file of a folder")
    push.add_argument("folder", help="folder to send (recursively; other files are skipped)")
    for parser, run in ((echo, _run_echo), (find, _run_find), (pull, _run_pull), (push, _run_push)):
        _connection_options(parser)
        parser.set_defaults(func=_guarded(run))
