"""Sanity check of the evaluation on real data: FID is small between two samples of the same real
distribution and large against noise or synthetic phantoms.

Uses a MedMNIST ``.npz`` archive (e.g. PneumoniaMNIST, 28 x 28): the reference is the ``test`` split;
the candidates are a seeded random sample of the ``train`` split of the same size, uniform noise, and
procedural chest phantoms (:func:`monai_synth.data.phantom.phantom_datalist`). Every pair goes through
:func:`monai_synth.metrics.evaluate.evaluate` (so ``metrics.json`` and ``report.html`` are written per
pair) and a Markdown table is printed::

    python -m monai_synth.metrics.sanity_check ../shared/data/pneumoniamnist/pneumoniamnist_28.npz --out sanity
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from monai_synth.data.phantom import phantom_datalist
from monai_synth.metrics.evaluate import evaluate
from monai_synth.metrics.features import InceptionFeatureExtractor

__all__ = ["candidate_sets", "main"]

_COLUMNS = ("fid", "kid_mean", "precision", "recall", "ms_ssim_fake")


def candidate_sets(npz: str | Path, count: int, seed: int = 0, phantom_size: int = 64) -> dict[str, torch.Tensor]:
    """The reference (test split) and the candidate sets, as tensors ``(N, 1, H, W)`` in ``[-1, 1]``."""
    archive = np.load(npz)
    test, train = archive["test_images"], archive["train_images"]
    count = min(count, len(test))
    rng = np.random.default_rng(seed)
    sample = train[np.sort(rng.choice(len(train), count, replace=False))]

    def unit(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32))[:, None] / 127.5 - 1.0

    phantoms = np.stack([entry["image"][0] for entry in phantom_datalist(count, phantom_size, seed)])
    noise = torch.rand(count, 1, *test.shape[1:3], generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return {
        "test": unit(test[:count]),
        "train sample": unit(sample),
        "uniform noise": noise,
        f"phantom {phantom_size}px": torch.from_numpy(phantoms.astype(np.float32))[:, None] * 2 - 1,
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("npz", help="MedMNIST .npz archive")
    parser.add_argument("--count", type=int, default=624, help="images per set (default: all 624 test images)")
    parser.add_argument("--out", default="sanity_check", help="output folder")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sets = candidate_sets(args.npz, args.count, args.seed)
    real = sets.pop("test")
    extractor = InceptionFeatureExtractor(device=args.device, batch_size=args.batch_size)
    print(f"reference: test split, {len(real)} images; candidates of {args.count} images each")
    print("| candidate | FID [95% CI] | KID | precision | recall | MS-SSIM (candidate) | MS-SSIM (test) | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, fake in sets.items():
        start = time.perf_counter()
        folder = Path(args.out) / name.replace(" ", "_")
        m = evaluate(real, fake, folder, extractor=extractor, seed=args.seed)
        ci = m.get("fid_ci") or [float("nan")] * 2
        print(f"| {name} | {m['fid']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] | {m['kid_mean']:.4f} | {m['precision']:.3f} "
              f"| {m['recall']:.3f} | {m['ms_ssim_fake']:.3f} | {m['ms_ssim_real']:.3f} "
              f"| {time.perf_counter() - start:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
