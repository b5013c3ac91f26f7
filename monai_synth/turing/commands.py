"""``monai-synth turing create|serve|report``: argument parsing and the three commands.

Bad input ends in a one-line ``error: ...`` naming the file or value and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from monai_synth.data.errors import DataError

from .report import write_report
from .server import make_server
from .study import create_study, load_study

__all__ = ["add_turing_command"]


def _name_value(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise DataError(f"{option} {text!r}: expected NAME=VALUE")
    return name, value


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, value = _name_value(item, option)
        if name in out:
            raise DataError(f"{option}: {name!r} is given twice")
        out[name] = value
    return out


def _number(text: str, option: str, kind: type) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise DataError(f"{option} {text!r}: not a number") from None


def _fake_counts(items: list[str] | None, models: list[str]) -> dict[str, int]:
    """``--n-fake N`` sets every model, ``--n-fake NAME=N`` one model; later options win; default 20."""
    counts = dict.fromkeys(models, 20)
    for item in items or []:
        if "=" in item:
            name, value = _name_value(item, "--n-fake")
            counts[name] = int(_number(value, "--n-fake", int))
        else:
            counts.update(dict.fromkeys(models, int(_number(item, "--n-fake", int))))
    return counts


def _reader_names(args: argparse.Namespace) -> list[str]:
    if args.reader:
        return list(args.reader)
    if args.readers < 1:
        raise DataError(f"--readers must be at least 1, got {args.readers}")
    return [f"reader-{i + 1}" for i in range(args.readers)]


def _run_create(args: argparse.Namespace) -> int:
    fakes = _pairs(args.fake, "--fake")
    study = create_study(args.study_dir, args.real, fakes, mode=args.mode, likert=args.likert, n_real=args.n_real,
                         n_fake=_fake_counts(args.n_fake, list(fakes)), readers=_reader_names(args), seed=args.seed,
                         size=args.size, window=args.window)
    counts = ", ".join(f"{k}: {v}" for k, v in study.info["counts"].items())
    print(f"study created in {study.root} ({study.mode}; images {counts}; {study.info['trials_per_reader']} "
          f"trials for each of {len(study.reader_ids)} readers)")
    print(f"next: monai-synth turing serve {study.root}")
    return 0


def _links(study, host: str, port: int) -> list[str]:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    lines = [f"admin (progress only): {base}/admin/{study.access['admin_token']}"]
    lines += [f"{study.reader_name(rid)}: {base}/r/{study.access['reader_tokens'][rid]}" for rid in study.reader_ids]
    return lines


def _run_serve(args: argparse.Namespace) -> int:
    study = load_study(args.study_dir)
    try:
        server = make_server(study, args.host, args.port)
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port} ({err.strerror or err})", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    if not ipaddress.ip_address(host).is_loopback:
        print(f"warning: serving on {host}, reachable from other machines; use HTTPS in front of it "
              "(reader links carry their token in the URL)", file=sys.stderr)
    print(f"serving {study.root} on http://{host}:{port}/ (Ctrl-C to stop)")
    for line in _links(study, host, port):
        print(line)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _run_report(args: argparse.Namespace) -> int:
    fids = {name: float(_number(value, "--fid", float)) for name, value in _pairs(args.fid, "--fid").items()}
    alphas = tuple(args.alpha) if args.alpha else (0.05,)
    if not 0 < args.confidence < 1:
        raise DataError(f"--confidence must be in (0, 1), got {args.confidence}")
    if args.permutations < 100:
        raise DataError(f"--permutations must be at least 100, got {args.permutations}")
    json_path, html_path, report = write_report(args.study_dir, args.out, fids=fids, alphas=alphas,
                                                confidence=args.confidence, permutations=args.permutations,
                                                seed=args.seed)
    answers = sum(report["progress"].values())
    print(f"{answers} answers from {len(report['progress'])} readers; report written to {html_path} and {json_path}")
    return 0


def _add_create(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("create", help="make a study folder from real and synthetic images",
                                 description="Make a reader-study folder from real and synthetic images.")
    parser.add_argument("study_dir", help="new study folder (must not exist, or be empty)")
    parser.add_argument("--real", required=True, metavar="DIR", help="real images (folder, DICOM export, datalist)")
    parser.add_argument("--fake", required=True, action="append", metavar="NAME=DIR",
                        help="synthetic images of one model (repeat for several models)")
    parser.add_argument("--mode", default="real-fake", choices=("real-fake", "2afc"),
                        help="one image per page (real-fake) or a real/synthetic pair per page (2afc)")
    parser.add_argument("--likert", action="store_true", help="real-fake: also ask a 1-5 realism score")
    parser.add_argument("--n-real", type=int, default=20, metavar="N", help="real images (real-fake; default 20)")
    parser.add_argument("--n-fake", action="append", metavar="N|NAME=N",
                        help="synthetic images per model (default 20), or for one model")
    parser.add_argument("--readers", type=int, default=2, metavar="N", help="number of readers (default 2)")
    parser.add_argument("--reader", action="append", metavar="NAME", help="reader names (instead of --readers)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the selection, pairing and orders")
    parser.add_argument("--size", type=int, default=256, metavar="PX", help="side of the images shown (default 256)")
    parser.add_argument("--window", default="auto", metavar="W",
                        help="DICOM window: auto (the file's own, else percentiles), header, percentile, a CT "
                             "preset (liver, lung, bone, ...) or LEVEL,WIDTH in HU")
    parser.set_defaults(func=_run_create)


def _add_serve(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="run the reader web app",
                                 description="Run the reader web app; prints the admin and reader links.")
    parser.add_argument("study_dir", help="study folder made by `turing create`")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.set_defaults(func=_run_serve)


def _add_report(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", help="statistics of the answers: report.html and report.json",
                                 description="Compute the study's statistics; write report.html and report.json.")
    parser.add_argument("study_dir", help="study folder")
    parser.add_argument("--out", metavar="DIR", help="output folder (default STUDY_DIR/report)")
    parser.add_argument("--fid", action="append", metavar="NAME=FID", help="FID of a model (for FPR against FID)")
    parser.add_argument("--alpha", type=float, action="append", metavar="A",
                        help="significance level of the Likert tests (repeatable; default 0.05)")
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence level of the intervals")
    parser.add_argument("--permutations", type=int, default=10000, help="permutations per test (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutation tests")
    parser.set_defaults(func=_run_report)


def add_turing_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``turing`` with its ``create``, ``serve`` and ``report`` subcommands to a parser."""
    parser = subparsers.add_parser("turing", help="visual Turing test: a reader-study web app and its statistics",
                                   description="Visual Turing test: create a reader study, serve it, report it.")
    commands = parser.add_subparsers(dest="turing_command", metavar="ACTION")
    commands.required = True
    _add_create(commands)
    _add_serve(commands)
    _add_report(commands)
