"""How well does the image-only CTR measurement separate the two phantom labels?

Generates ``--per-label`` phantoms of each label at ``--size`` pixels, measures the cardiothoracic
ratio from the image alone (:func:`monai_synth.data.ctr.measure_ctr`) and reports, per label, the
distribution of the measured CTR, the accuracy of thresholding it at 0.5, the mean absolute error
against the true CTR, and the generation and measurement times.

    python benchmarks/quality/phantom_ctr.py --size 256 --per-label 200 --seed 0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from monai_synth.data.ctr import measure_ctr
from monai_synth.data.phantom import make_phantom


def _stats(values: np.ndarray) -> dict:
    """Mean, standard deviation, minimum and maximum of the finite values, and the nan count."""
    ok = values[np.isfinite(values)]
    return {
        "n": int(values.size),
        "nan": int(values.size - ok.size),
        "mean": round(float(ok.mean()), 4),
        "std": round(float(ok.std()), 4),
        "min": round(float(ok.min()), 4),
        "max": round(float(ok.max()), 4),
    }


def run(size: int, per_label: int, seed: int) -> dict:
    """Generate, measure and summarise ``per_label`` phantoms of each label."""
    seeds = np.random.SeedSequence(seed).generate_state(per_label, dtype=np.uint32)
    true = {0: [], 1: []}
    measured = {0: [], 1: []}
    gen_s = meas_s = 0.0
    for item_seed in seeds:
        for label in (0, 1):
            t0 = time.perf_counter()
            phantom = make_phantom(int(item_seed), size, label)
            t1 = time.perf_counter()
            measured[label].append(measure_ctr(phantom["image"]))
            meas_s += time.perf_counter() - t1
            gen_s += t1 - t0
            true[label].append(phantom["ctr"])
    m0, m1 = np.array(measured[0]), np.array(measured[1])
    t_all = np.array(true[0] + true[1])
    m_all = np.concatenate([m0, m1])
    correct = np.sum(m0 <= 0.5) + np.sum(m1 > 0.5)  # nan counts as wrong
    n = 2 * per_label
    return {
        "size": size,
        "per_label": per_label,
        "seed": seed,
        "true_ctr": {"label0": _stats(np.array(true[0])), "label1": _stats(np.array(true[1]))},
        "measured_ctr": {"label0": _stats(m0), "label1": _stats(m1)},
        "accuracy_threshold_0.5": round(float(correct / n), 4),
        "mae_vs_true": round(float(np.nanmean(np.abs(m_all - t_all))), 4),
        "max_abs_error": round(float(np.nanmax(np.abs(m_all - t_all))), 4),
        "bias": round(float(np.nanmean(m_all - t_all)), 4),
        "ms_per_phantom": round(1000 * gen_s / n, 2),
        "ms_per_measurement": round(1000 * meas_s / n, 2),
    }


def main() -> None:
    """Command-line entry point: print the summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--per-label", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.size, args.per_label, args.seed), indent=2))


if __name__ == "__main__":
    main()
