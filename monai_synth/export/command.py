"""``monai-synth export RUN_DIR OUT_DIR [--model M]``: the command-line side of :func:`export_run`."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run_export_command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The export command's arguments."""
    parser.add_argument("run_dir", help="output_dir of a finished train.json (Medfusion, Med-cDiff or StyleGAN2-ADA)")
    parser.add_argument("out_dir", help="bundle folder to create (new or empty; not inside the run's inputs)")
    parser.add_argument("--model", choices=("diffusion", "pix2pix", "srgan"),
                        help="Med-cDiff: which trained model to export (default: diffusion when trained)")


def run_export_command(args: argparse.Namespace) -> int:
    """Export; print the bundle folder. Refused folders and missing runs are one-line errors (exit status 1)."""
    from monai_synth.export.writer import export_run

    try:
        out = export_run(args.run_dir, args.out_dir, model=args.model)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"bundle written to {out}")
    print(f"run it with: python -m monai.bundle run --config_file {out}/configs/inference.json")
    return 0
