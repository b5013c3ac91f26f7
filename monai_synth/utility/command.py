"""``monai-synth utility SOURCE --real PATH --out DIR``: run a :class:`~monai_synth.utility.UtilityStudy`, or,
when SOURCE is a Med-cDiff run folder or exported bundle (a restorer), a
:class:`~monai_synth.utility.segmentation_study.SegmentationUtilityStudy`.

The defaults shown by ``--help`` are the study classes' (the same values ``bundles/*/utility.json`` set); a
flag whose default differs between the two studies shows both and takes the one of the study that runs.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any

from monai_synth.metrics.utility.segmentation_report import score_text
from monai_synth.utility.generators import is_restorer
from monai_synth.utility.segmentation_study import SegmentationUtilityStudy
from monai_synth.utility.study import UtilityStudy

__all__ = ["add_utility_command", "run_utility_command"]


def _defaults(study: type = UtilityStudy) -> dict[str, Any]:
    params = inspect.signature(study.__init__).parameters
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


def _both(name: str) -> str:
    """``classification X, segmentation Y`` for a default that differs between the two studies."""
    return f"classification {_defaults()[name]}, segmentation {_defaults(SegmentationUtilityStudy)[name]}"


def add_utility_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``utility`` subcommand."""
    d, g = _defaults(), _defaults(SegmentationUtilityStudy)
    parser = subparsers.add_parser(
        "utility", help="downstream utility of synthetic images (TRTR vs TSTR, augmentation curve) or of "
                        "restored images (segmentation, Med-cDiff)",
        description="Train classifiers on real, synthetic and mixed images and test them on real held-out "
                    "images; for a Med-cDiff model, train segmentation networks on real, restored and degraded "
                    "images and test them on real held-out images. Write metrics.json and report.html. Rerun the "
                    "same command to continue.",
    )  # fmt: skip
    parser.add_argument("source", help="Medfusion/StyleGAN2-ADA run folder or exported bundle, or a folder of "
                                       "synthetic images with class labels; or a Med-cDiff run folder or exported "
                                       "bundle (segmentation utility)")  # fmt: skip
    parser.add_argument("--real", required=True, metavar="PATH",
                        help="real labelled data (folder, .csv/.json datalist, .npz; '' for the phantom); for a "
                             "Med-cDiff model: image/mask pairs (.csv/.json datalist with image, mask, split; '' "
                             "for the phantom's lung and heart masks)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--synthetic-labels", metavar="PATH", help="labels file of a synthetic image folder")
    parser.add_argument("--train-split", default=d["train_split"], help="real split to train on")
    parser.add_argument("--test-split", default=d["test_split"], help="real held-out split to test on")
    parser.add_argument("--networks", nargs="+", default=list(d["networks"]), help="vgg11 and/or monai_classifier")
    parser.add_argument("--real-fractions", nargs="+", type=float, default=list(d["real_fractions"]), metavar="F")
    parser.add_argument("--synthetic-multiples", nargs="+", type=float, default=list(d["synthetic_multiples"]),
                        metavar="K", help="synthetic images as multiples of the real images used")
    parser.add_argument("--tstr-multiple", type=float, default=d["tstr_multiple"],
                        help="TSTR: synthetic images as a multiple of the real training split (0: no TSTR)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(d["seeds"]), help="training seeds")
    parser.add_argument("--train-steps", type=int, default=d["train_steps"], help="steps per classifier (budget)")
    parser.add_argument("--batch-size", type=int, default=None, help=f"default: {_both('batch_size')}")
    parser.add_argument("--lr", type=float, default=None, help=f"default: {_both('lr')}")
    parser.add_argument("--phantom-count", type=int, default=None,
                        help=f"phantom images per split when --real is '' (default: {_both('phantom_count')})")
    parser.add_argument("--vgg-width", type=float, default=d["vgg_width"], help="VGG11 width (1.0: full, GPU)")
    parser.add_argument("--no-augment", action="store_true", help="no random shifts in training")
    parser.add_argument("--image-size", type=int, default=None, help="image side (default: the generator's, or "
                                                                     "the real images' for a folder)")
    parser.add_argument("--channels", type=int, default=None, help="image channels (default: as image-size)")
    parser.add_argument("--intensity", default=None, help="real intensity mode (default: the generator's, or auto)")
    parser.add_argument("--window", default=None, help="CT window preset of the real images")
    parser.add_argument("--sampler", default=None,
                        help="Medfusion or Med-cDiff sampler (default: the bundle's utility.json)")
    parser.add_argument("--sampling-steps", type=int, default=None, help="Medfusion or Med-cDiff sampler steps")
    parser.add_argument("--eta", type=float, default=None, help="Medfusion or Med-cDiff DDIM eta")
    parser.add_argument("--guidance-scale", type=float, default=None, help="Medfusion guidance scale")
    parser.add_argument("--precision", default=None, help="Medfusion sampling precision (fp32, bf16, fp16)")
    parser.add_argument("--truncation-psi", type=float, default=None, help="StyleGAN2-ADA truncation")
    parser.add_argument("--sample-seed", type=int, default=d["sample_seed"])
    parser.add_argument("--sample-batch-size", type=int, default=d["sample_batch_size"])
    parser.add_argument("--bootstrap", type=int, default=d["num_bootstrap"], help="bootstrap resamples (0: none)")
    parser.add_argument("--confidence", type=float, default=d["confidence"])
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    seg = parser.add_argument_group("segmentation utility (a Med-cDiff run folder or bundle)")
    seg.add_argument("--model", default=g["model"], help="restorer of a run folder: diffusion, pix2pix or srgan "
                                                         "(default: the bundle's, else diffusion when trained)")
    seg.add_argument("--setting", default=g["setting"], help="degradation setting, e.g. x4 (default: the run's first)")
    seg.add_argument("--structures", nargs="+", default=g["structures"], metavar="NAME",
                     help="names of mask labels 1..K (default: lung heart for the phantom, else label1..labelK)")
    seg.add_argument("--epochs", type=int, default=g["epochs"], help="DynUNet training epochs")
    seg.add_argument("--base-filters", type=int, default=g["base_filters"], help="DynUNet filters of the first level")
    seg.add_argument("--strength", type=float, default=None, help="diffusion sampling start (default: the bundle's "
                                                                 "utility.json)")
    seg.add_argument("--restore-seed", type=int, default=g["restore_seed"], help="seed of degradation and restoration")
    seg.add_argument("--restore-batch-size", type=int, default=g["restore_batch_size"])
    seg.add_argument("--gallery", type=int, default=g["gallery"], help="test images shown in the report")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an --out folder that holds images monai-synth did not write")
    parser.set_defaults(func=run_utility_command)


def _print_summary(metrics: dict[str, Any]) -> None:
    for network, v in metrics["trtr_vs_tstr"].items():
        for m in ("accuracy", "balanced_accuracy", "auroc"):
            trtr, tstr = v["trtr"][m], v["tstr"][m]
            print(f"{network:17s} {m:18s} TRTR {trtr['mean']:.3f} {trtr['ci']}  TSTR {tstr['mean']:.3f} {tstr['ci']}")
    for r in metrics["settings"]:
        if r["kind"] == "augmented":
            d = r["difference"]["balanced_accuracy"]
            print(f"{r['network']:17s} {r['label']:32s} balanced accuracy {r['balanced_accuracy']['mean']:.3f} "
                  f"({d['value']:+.3f} {d['ci']}: {d['verdict']})")


def _print_segmentation(metrics: dict[str, Any]) -> None:
    for name, entry in metrics["settings"].items():
        for structure in metrics["structures"]:
            print(f"trained on {name:9s} {structure:10s} Dice {score_text(entry[structure]['dice'])}  "
                  f"HD95 {score_text(entry[structure]['hd95'], 2)}")


def _given(args: argparse.Namespace, study: type, names: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments of ``study`` from the flags that were given (None: the study's default)."""
    defaults = _defaults(study)
    return {k: (getattr(args, a) if getattr(args, a) is not None else defaults[k]) for k, a in names.items()}


def run_segmentation_command(args: argparse.Namespace) -> int:
    """Run the segmentation study of a Med-cDiff model; print the main figures. Returns exit status 0."""
    sampling = {"sampler": args.sampler, "steps": args.sampling_steps, "eta": args.eta, "strength": args.strength}
    study = SegmentationUtilityStudy(
        args.source, args.real, args.out, model=args.model, setting=args.setting, train_split=args.train_split,
        test_split=args.test_split, structures=args.structures, seeds=args.seeds, epochs=args.epochs,
        base_filters=args.base_filters, sampling={k: v for k, v in sampling.items() if v is not None},
        restore_seed=args.restore_seed, restore_batch_size=args.restore_batch_size, gallery=args.gallery,
        num_bootstrap=args.bootstrap, confidence=args.confidence, device=args.device, overwrite=args.overwrite,
        **_given(args, SegmentationUtilityStudy, {"batch_size": "batch_size", "lr": "lr",
                                                  "phantom_count": "phantom_count"}),
    )  # fmt: skip
    metrics = study.run()
    _print_segmentation(metrics)
    print(f"written: {Path(args.out) / 'metrics.json'}, {Path(args.out) / 'report.html'}")
    return 0


def run_utility_command(args: argparse.Namespace) -> int:
    """Run the study from the parsed arguments; print the main figures. Returns exit status 0."""
    if is_restorer(args.source):
        return run_segmentation_command(args)
    sampling = {"sampler": args.sampler, "steps": args.sampling_steps, "eta": args.eta,
                "guidance_scale": args.guidance_scale, "precision": args.precision,
                "truncation_psi": args.truncation_psi}  # fmt: skip
    study = UtilityStudy(
        args.source, args.real, args.out, synthetic_labels=args.synthetic_labels, train_split=args.train_split,
        test_split=args.test_split, networks=args.networks, real_fractions=args.real_fractions,
        synthetic_multiples=args.synthetic_multiples, tstr_multiple=args.tstr_multiple or None, seeds=args.seeds,
        train_steps=args.train_steps, vgg_width=args.vgg_width,
        augment=not args.no_augment, image_size=args.image_size, channels=args.channels, intensity=args.intensity,
        window=args.window, sampling={k: v for k, v in sampling.items() if v is not None},
        sample_seed=args.sample_seed, sample_batch_size=args.sample_batch_size, num_bootstrap=args.bootstrap,
        confidence=args.confidence, device=args.device, overwrite=args.overwrite,
        **_given(args, UtilityStudy, {"batch_size": "batch_size", "lr": "lr", "phantom_count": "phantom_count"}),
    )  # fmt: skip
    metrics = study.run()
    _print_summary(metrics)
    for w in metrics.get("warnings") or []:
        print(f"warning: {w}")
    print(f"written: {Path(args.out) / 'metrics.json'}, {Path(args.out) / 'report.html'}")
    return 0
