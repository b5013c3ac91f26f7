"""``monai-synth audit``: the memorization and privacy audit from the command line.

    monai-synth audit runs/medfusion --out runs/medfusion/audit
    monai-synth audit samples/ --train data/split.csv --holdout data/split.csv --model runs/medfusion --out audit/

Defaults are :class:`monai_synth.privacy.audit.MemorizationAudit`'s (those of ``bundles/medfusion/audit.json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monai_synth.metrics.weights import InceptionWeightsError
from monai_synth.privacy.audit import MemorizationAudit

__all__ = ["add_audit_command", "run_audit_command"]


def add_audit_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit`` to the ``monai-synth`` subcommands."""
    parser = subparsers.add_parser(
        "audit", help="memorization and privacy audit of synthetic images",
        description="Audit synthetic images for memorization: nearest training neighbours, a copy rate calibrated "
                    "on real hold-out images, distance to closest record, and a membership attack on a diffusion "
                    "model. Writes audit.json and report.html (see docs/audit.md).")
    parser.add_argument("source", help="a Medfusion or StyleGAN2-ADA run folder or exported bundle (sampled), or a "
                                       "folder (or other data source) of synthetic images")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--train", default=None, metavar="PATH",
                        help="training images (any data source; '' = phantom); default: the dataset a Medfusion run "
                             "recorded")
    parser.add_argument("--train-split", default="train", help="split of the training source")
    parser.add_argument("--holdout", default=None, metavar="PATH",
                        help="real images not used in training; default: the training source, --holdout-split")
    parser.add_argument("--holdout-split", default="test", help="split of the hold-out source")
    parser.add_argument("--model", default=None, metavar="RUN",
                        help="the Medfusion run or bundle that made a folder of synthetic images (membership attack)")
    parser.add_argument("--num-samples", type=int, default=500, metavar="N", help="images sampled from a model")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: 50)")
    parser.add_argument("--image-size", type=int, default=None, help="comparison size (default: the model's or the "
                                                                     "training images')")
    parser.add_argument("--channels", type=int, default=None, choices=(1, 3), help="comparison channels")
    parser.add_argument("--intensity", default=None, help="intensity scaling of real images (default: the model's)")
    parser.add_argument("--window", default=None, help="CT window preset of real images (default: the model's)")
    parser.add_argument("--phantom-count", type=int, default=None, metavar="N",
                        help="images of a phantom training/hold-out set (default: the run's, else 512)")
    parser.add_argument("--self-supervised", action="store_true",
                        help="add the space of a self-supervised encoder trained on the training set")
    parser.add_argument("--no-inception", action="store_true", help="leave out the Inception feature space")
    parser.add_argument("--no-membership", action="store_true", help="do not run the membership attack")
    parser.add_argument("--percentile", type=float, default=95.0, help="hold-out percentile of the copy threshold")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap replicates")
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling, bootstrap and noise")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="Inception batch size")
    parser.add_argument("--weights", default=None, metavar="PATH", help="Inception weights (TorchScript)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR", help="real-feature cache folder")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the real-feature cache")
    parser.add_argument("--overwrite", action="store_true", help="write into an --out folder holding other images")
    parser.set_defaults(func=run_audit_command)


def run_audit_command(args: argparse.Namespace) -> int:
    """Run the audit; print the verdicts. Exit status 0 (also when memorization is found: read the verdicts)."""
    spaces = ["pixel"] + ([] if args.no_inception else ["inception"]) + (["self_supervised"] if args.self_supervised
                                                                         else [])
    audit = MemorizationAudit(
        args.source, args.out, train=args.train, train_split=args.train_split, holdout=args.holdout,
        holdout_split=args.holdout_split, model=args.model, image_size=args.image_size, channels=args.channels,
        intensity=args.intensity, window=args.window, phantom_count=args.phantom_count, num_samples=args.num_samples,
        sample={"steps": args.steps} if args.steps else None, spaces=spaces,
        membership={"enabled": not args.no_membership}, percentile=args.percentile, num_bootstrap=args.bootstrap,
        seed=args.seed, device=args.device, batch_size=args.batch_size, weights=args.weights,
        cache_dir=args.cache_dir, use_cache=not args.no_cache, overwrite=args.overwrite,
    )
    try:
        result = audit.run()
    except InceptionWeightsError as err:
        print(f"error: {err} (or pass --no-inception)", file=sys.stderr)
        return 1
    for verdict in result["verdicts"]:
        where = f" [{verdict['space']}]" if verdict["space"] else ""
        print(f"{verdict['status']:8s} {verdict['measure']}{where}: {verdict['line']}")
    print("memorization found: " + (", ".join(result["flagged_by"]) if result["memorization_found"] else "no"))
    print(f"written: {Path(args.out) / 'audit.json'}, {Path(args.out) / 'report.html'}")
    return 0
