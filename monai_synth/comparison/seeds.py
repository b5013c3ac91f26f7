"""Repeat a comparison over seeds and summarise each row's scores as mean ± standard deviation over the seeds.

Seed ``n`` runs the single-seed command, with ``seed = n``, into ``<out>/seed_<n>``. For ``compare`` that is
exactly ``--seed n --out <out>/seed_<n>``, so a seed already run on its own with the same settings is picked
up, not trained again (a finished run with other settings is refused, see ``runs``). The summary,
``<name>_seeds.json`` and ``<name>_seeds.md`` in ``<out>``, has one row per model (or ablation variant): for
each score its mean, its sample standard deviation over the seeds (n - 1 in the denominator) and the per-seed
values.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_synth.comparison.table import write_markdown
from monai_synth.data.errors import DataError

SUMMARY_KEYS = ("fid", "kid_mean", "precision", "recall", "train_seconds", "ada_p", "rt_end")
HEADERS = {"fid": ("FID ↓", 1.0, "{:.1f}"), "kid_mean": ("KID ×10³ ↓", 1e3, "{:.1f}"),
           "precision": ("Precision ↑", 1.0, "{:.3f}"), "recall": ("Recall ↑", 1.0, "{:.3f}"),
           "train_seconds": ("Training s", 1.0, "{:.0f}"), "ada_p": ("ADA p (end)", 1.0, "{:.3f}"),
           "rt_end": ("r_t (end)", 1.0, "{:.3f}")}  # fmt: skip


def check_seeds(seeds: Sequence[int]) -> None:
    """Refuse an empty list or a repeated seed (a repeat would only reuse the same run)."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise DataError(f"--seeds must be distinct and at least one, got {list(seeds)}")


def seed_settings(settings: Any, seed: int) -> Any:
    """The settings of one seed's run: ``seed`` set, output in ``<out>/seed_<seed>``."""
    return dataclasses.replace(settings, seed=seed, out=str(Path(settings.out) / f"seed_{seed}"))


def _spread(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value: no spread can be measured)."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else None


def summarise(per_seed: Mapping[int, Sequence[Mapping[str, Any]]], key: str) -> list[dict[str, Any]]:
    """One row per ``key`` value (in the first seed's order): ``<score>``, ``<score>_sd``, ``<score>_values``.

    A score is summarised only where every seed has a finite value for it; ``_sd`` is None for one seed.
    """
    seeds = list(per_seed)
    names = [row[key] for row in per_seed[seeds[0]]]
    summary = []
    for name in names:
        rows = [next(r for r in per_seed[s] if r[key] == name) for s in seeds]
        entry: dict[str, Any] = {key: name, "seeds": seeds}
        for score in SUMMARY_KEYS:
            values = [r.get(score) for r in rows]
            if all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                entry[score], entry[f"{score}_sd"] = _spread([float(v) for v in values])
                entry[f"{score}_values"] = [float(v) for v in values]
        summary.append(entry)
    return summary


def _cell(row: Mapping[str, Any], score: str) -> str:
    if score not in row:
        return "n/a"
    _, scale, fmt = HEADERS[score]
    sd = row[f"{score}_sd"]
    return fmt.format(row[score] * scale) + (f" ± {fmt.format(sd * scale)}" if sd is not None else "")


def seeds_markdown(rows: Sequence[Mapping[str, Any]], key: str, scores: Sequence[str]) -> str:
    """The summary table: mean ± sd of each score, then FID per seed."""
    header = [key.capitalize(), *(HEADERS[s][0] for s in scores), "FID per seed"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        per_seed = ", ".join(f"{v:.1f}" for v in row.get("fid_values", []))
        lines.append("| " + " | ".join([str(row[key]), *(_cell(row, s) for s in scores), per_seed]) + " |")
    return "\n".join(lines) + "\n"


def run_over_seeds(
    settings: Any,
    seeds: Sequence[int],
    run_one: Callable[[Any], Mapping[str, Any]],
    name: str,
    key: str,
    scores: Sequence[str],
) -> dict[str, Any]:
    """``run_one`` for each seed's settings, then ``<out>/<name>_seeds.json`` / ``.md``; returns the summary."""
    check_seeds(seeds)
    results = {int(seed): run_one(seed_settings(settings, int(seed))) for seed in seeds}
    per_seed = {seed: list(result["rows"]) for seed, result in results.items()}
    rows = summarise(per_seed, key)
    title = f"{results[int(seeds[0])]['title']}, {len(seeds)} seeds"
    note = (f"Mean ± sample standard deviation over {len(seeds)} seeds ({', '.join(map(str, seeds))}); each seed's "
            f"own table is in seed_<n>/{name}.md.")  # fmt: skip
    settings_dict = {k: v for k, v in dataclasses.asdict(settings).items() if k != "seed"}
    write_markdown(Path(settings.out), f"{name}_seeds", title, seeds_markdown(rows, key, scores), note,
                   {**settings_dict, "seeds": list(seeds)}, {"rows": rows})  # fmt: skip
    return {"rows": rows, "per_seed": per_seed, "title": title}
