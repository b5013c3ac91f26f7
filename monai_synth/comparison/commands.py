"""Argument parsers of ``monai-synth compare`` and ``monai-synth ablate-stylegan2``."""

from __future__ import annotations

import argparse

from monai_synth.comparison.ablation import VARIANT_KEYS, AblationSettings, run_ablation, run_ablation_seeds
from monai_synth.comparison.compare import CompareSettings, run_compare, run_compare_seeds
from monai_synth.comparison.overrides import parse_overrides
from monai_synth.io.output_guard import check_output_dir


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _add_common(parser: argparse.ArgumentParser, minutes: float) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (resumable: run again to continue)")
    parser.add_argument("--image-size", type=int, default=32, help="training size of both models")
    parser.add_argument("--minutes", type=float, default=minutes,
                        help="training budget per model run, wall clock on this machine")
    parser.add_argument("--num-samples", type=int, default=500, help="generated images per model, balanced classes")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument("--split", default="train", help="training split of the data source")
    parser.add_argument("--real-split", default="test", help="reference split for the metrics (the same name and default as the bundles' real_split)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=0, help="seed of data, training and sampling")
    seeds.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                        help="instead of --seed: run the command once per seed, into DIR/seed_<n>, then summarise "
                             "each score as mean ± sd over the seeds (<name>_seeds.md)")
    parser.add_argument("--phantom-count", type=int, default=512, help="phantom images when no dataset is given")
    parser.add_argument("--bootstrap", type=int, default=50, help="bootstrap resamples of the FID interval")
    parser.add_argument("--stylegan2", action="append", metavar="KEY=VALUE",
                        help="override of bundles/stylegan2_ada/train.json (repeatable), e.g. batch_size=32")
    parser.add_argument("--stylegan2-sample", action="append", metavar="KEY=VALUE",
                        help="override of bundles/stylegan2_ada/sample.json, e.g. truncation_psi=1.0")


def add_comparison_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``ablate-stylegan2`` to the ``monai-synth`` subcommands."""
    compare = subparsers.add_parser(
        "compare", help="train Medfusion and StyleGAN2-ADA at equal compute and tabulate FID/precision/recall",
        description="Train Medfusion and StyleGAN2-ADA on the same data with the same compute budget, sample "
                    "both with their sample configs and write compare.json / compare.md "
                    "(see docs/compare.md).")  # fmt: skip
    compare.add_argument("--dataset", default="", help="any data source the data layer reads; empty = phantom")
    _add_common(compare, 30.0)
    compare.add_argument("--channels", type=int, default=1, help="image channels (1 or 3)")
    compare.add_argument("--autoencoder-fraction", type=float, default=0.25,
                         help="share of Medfusion's budget for its autoencoder phase")
    compare.add_argument("--medfusion", action="append", metavar="KEY=VALUE",
                         help="override of bundles/medfusion/train.json (repeatable), e.g. unet#channels=[32,64]")
    compare.add_argument("--medfusion-sample", action="append", metavar="KEY=VALUE",
                         help="override of bundles/medfusion/sample.json, e.g. steps=50")
    compare.set_defaults(func=_run_compare)

    ablate = subparsers.add_parser(
        "ablate-stylegan2", help="StyleGAN2-ADA with/without ADA and transfer learning on limited data",
        description="Pretrain StyleGAN2-ADA on a source dataset, then train on a few hundred target images with "
                    "and without ADA and transfer learning; write ablation.json / ablation.md.")  # fmt: skip
    ablate.add_argument("--source", default="", help="pretraining data source (empty = phantom)")
    ablate.add_argument("--target", default="", help="target data source (empty = phantom)")
    ablate.add_argument("--target-count", type=int, default=300, help="target training images (balanced classes)")
    ablate.add_argument("--pretrain-minutes", type=float, default=None,
                        help="budget of the source run (None: --minutes)")  # fmt: skip
    ablate.add_argument("--ada-target", type=float, default=0.6, help="ADA's target r_t in the ADA variants")
    ablate.add_argument("--ada-kimg", type=float, default=20.0,
                        help="kimg for ADA's p to go from 0 to 1 (20 suits short runs; the paper used 500)")
    ablate.add_argument("--variants", nargs="+", choices=VARIANT_KEYS, default=None, metavar="VARIANT",
                        help=f"run only these variants (default: all four: {', '.join(VARIANT_KEYS)}); without a "
                             "transfer variant no source model is trained")
    ablate.add_argument("--pretrained", default="", metavar="DIR",
                        help="checkpoints/ folder of a source StyleGAN2-ADA run to transfer from, instead of "
                             "pretraining one (--source and --pretrain-minutes are then unused)")
    _add_common(ablate, 10.0)
    ablate.set_defaults(func=_run_ablation)


def _common_settings(args: argparse.Namespace) -> dict:
    return {"out": args.out, "image_size": args.image_size, "minutes": args.minutes, "num_samples": args.num_samples,
            "device": args.device or _default_device(), "split": args.split, "real_split": args.real_split,
            "seed": args.seed, "phantom_count": args.phantom_count, "bootstrap": args.bootstrap,
            "stylegan2": parse_overrides(args.stylegan2),
            "stylegan2_sample": parse_overrides(args.stylegan2_sample)}  # fmt: skip


def _print_table(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        print(handle.read())


def _run_compare(args: argparse.Namespace) -> int:
    settings = CompareSettings(
        dataset=args.dataset, channels=args.channels, autoencoder_fraction=args.autoencoder_fraction,
        medfusion=parse_overrides(args.medfusion), medfusion_sample=parse_overrides(args.medfusion_sample),
        **_common_settings(args),
    )  # fmt: skip

    check_output_dir(args.out, [args.dataset])
    if args.seeds:
        run_compare_seeds(settings, args.seeds)
    else:
        run_compare(settings)
    _print_table(f"{args.out}/{'compare_seeds' if args.seeds else 'compare'}.md")
    return 0


def _run_ablation(args: argparse.Namespace) -> int:
    settings = AblationSettings(
        source=args.source, target=args.target, target_count=args.target_count,
        pretrain_minutes=args.pretrain_minutes, ada_target=args.ada_target, ada_kimg=args.ada_kimg,
        pretrained=args.pretrained, variants=tuple(args.variants or ()), **_common_settings(args),
    )  # fmt: skip

    check_output_dir(args.out, [args.source, args.target, args.pretrained])
    if args.seeds:
        run_ablation_seeds(settings, args.seeds)
    else:
        run_ablation(settings)
    _print_table(f"{args.out}/{'ablation_seeds' if args.seeds else 'ablation'}.md")
    return 0


__all__ = ["add_comparison_commands"]
