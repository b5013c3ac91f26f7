"""``monai-synth ablate-stylegan2``: the StyleGAN2-ADA study at small scale (ADA x transfer learning).

After Woodland et al., "Evaluating the Performance of StyleGAN2-ADA on Medical Images" (SASHIMI 2022): with
limited data, transfer learning plus adaptive augmentation improved FID the most. Here a generator is first
trained on a source dataset (e.g. MedNIST), then four runs train on ``target_count`` images of the target
(e.g. PneumoniaMNIST), with and without ADA and with and without starting from the source model. All four
runs have the same length (``kimg`` sized so the ADA run fills ``minutes``), are sampled with ``sample.json``
(balanced classes) and scored against the target's ``real_split``. Writes ``ablation.json`` / ``ablation.md``
and ``ablation_ada.png`` (ADA's p and the overfitting heuristic r_t against kimg; the runs without ADA measure
r_t too); every finished step is skipped when the command is run again. ``run_ablation_seeds`` repeats the
target runs for several seeds from one source model and summarises them.

These runs are short (tens of kimg, not the paper's thousands), so ADA's adjustment speed ``ada_kimg`` (kimg
for p to go from 0 to 1) defaults to 20 instead of the paper's 500; otherwise p could not move measurably.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from monai_synth.comparison import budget, runs
from monai_synth.comparison.ada_curves import ada_curve, plot_ada_curves
from monai_synth.comparison.bundle_runs import read_setting
from monai_synth.io.bundle_configs import bundle_file
from monai_synth.comparison.scoring import make_extractor, reference_images, score_samples
from monai_synth.comparison.seeds import check_seeds, run_over_seeds
from monai_synth.comparison.table import write_table
from monai_synth.data import build_datalist
from monai_synth.data.errors import DataError
from monai_synth.engines.checkpoint import latest_checkpoint

logger = logging.getLogger(__name__)

ABLATION_COLUMNS = ("variant", "fid", "kid_mean", "precision", "recall", "ada_p", "rt_end", "train_seconds", "length")
SEED_SCORES = ("fid", "kid_mean", "precision", "recall", "ada_p", "rt_end", "train_seconds")
# (variant name, ADA on, transfer from the source model)
VARIANTS = (("no ADA, from scratch", False, False), ("ADA, from scratch", True, False),
            ("no ADA, transfer", False, True), ("ADA, transfer", True, True))  # fmt: skip


def variant_key(ada: bool, transfer: bool) -> str:
    """Short name of a variant, as in its run folder and ``--variants``: e.g. ``noada_scratch``."""
    return f"{'ada' if ada else 'noada'}_{'transfer' if transfer else 'scratch'}"


VARIANT_KEYS = tuple(variant_key(ada, transfer) for _, ada, transfer in VARIANTS)


@dataclass
class AblationSettings:
    """What ``monai-synth ablate-stylegan2`` was asked to do (see its ``--help``)."""

    out: str
    source: str = ""
    target: str = ""
    target_count: int = 300
    image_size: int = 32
    minutes: float = 10.0
    pretrain_minutes: float | None = None
    num_samples: int = 500
    device: str = "cpu"
    split: str = "train"
    real_split: str = "test"
    seed: int = 0
    phantom_count: int = 512
    ada_target: float = 0.6
    ada_kimg: float = 20.0
    pretrained: str = ""
    variants: tuple[str, ...] = ()
    bootstrap: int = 50
    stylegan2: dict[str, Any] = field(default_factory=dict)
    stylegan2_sample: dict[str, Any] = field(default_factory=dict)


def balanced_subset(entries: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` entries drawn evenly over the labels (deterministic for a seed), in their original order."""
    rng = np.random.default_rng(seed)
    by_label: dict[Any, list[int]] = {}
    for i, entry in enumerate(entries):
        by_label.setdefault(entry.get("label"), []).append(i)
    pools = {k: list(rng.permutation(v)) for k, v in sorted(by_label.items(), key=lambda kv: str(kv[0]))}
    picked: list[int] = []
    while len(picked) < min(count, len(entries)):
        for pool in pools.values():
            if pool and len(picked) < count:
                picked.append(int(pool.pop()))
    return [entries[i] for i in sorted(picked)]


def target_data(settings: AblationSettings, out: Path) -> dict[str, Any]:
    """Bundle keys selecting the limited target set: a datalist file of the subset (phantom: ``phantom_count``)."""
    base = {"split": settings.split, "image_size": settings.image_size, "seed": settings.seed,
            "device": settings.device}  # fmt: skip
    if not settings.target:
        return {**base, "dataset_dir": "", "phantom_count": settings.target_count}
    entries = build_datalist(settings.target, split=settings.split)
    subset = balanced_subset(entries, settings.target_count, settings.seed)
    path = out / "target_subset.json"
    runs.write_json(subset, path)  # entries keep their split (an .npz row needs it); all are in ``split``
    return {**base, "dataset_dir": str(path)}


def _ada_overrides(settings: AblationSettings) -> dict[str, Any]:
    """ADA on, starting from p = 0, with the ablation's target and adjustment speed."""
    return {"ada_target": settings.ada_target, "ada_kimg": settings.ada_kimg, "augment_p": 0.0}


def _variant_overrides(ada: bool, transfer: bool, pretrained: Path, settings: AblationSettings) -> dict[str, Any]:
    """Bundle keys of one variant.

    Without ADA the discriminator sees no augmentation at all (p stays 0, where the pipeline is the identity),
    while r_t is still measured (ADA's target null: measure, never adjust), so the table and the curves show how
    far the discriminator overfits when nothing holds it back.
    """
    augment = _ada_overrides(settings) if ada else {"augment_p": 0.0, "ada_target": None}
    return {**augment, "resume_from": str(pretrained) if transfer else ""}


def _pretrain(settings: AblationSettings, out: Path) -> tuple[Path, dict[str, Any]]:
    """Train the source model (ADA on) for ``pretrain_minutes``; its checkpoint folder and ``run.json``.

    With ``settings.pretrained`` (a source run's ``checkpoints`` folder) nothing is trained: that model is used.
    """
    if settings.pretrained:
        folder = Path(settings.pretrained)
        if latest_checkpoint(folder) is None:
            raise DataError("--pretrained: no StyleGAN2-ADA checkpoint here (expected a run's checkpoints/ folder)",
                            path=folder)  # fmt: skip
        return folder, runs.finished_run(folder.parent) or {"checkpoints": str(folder)}
    source = {"dataset_dir": settings.source or "", "split": settings.split, "image_size": settings.image_size,
              "seed": settings.seed, "device": settings.device, "phantom_count": settings.phantom_count,
              **settings.stylegan2, **_ada_overrides(settings)}  # fmt: skip
    kimg = _kimg(out / "calibration" / "pretrain", source, settings.pretrain_minutes or settings.minutes)
    record = runs.train_stylegan2(out / "pretrain", source, {"kimg": kimg})
    return out / "pretrain" / "checkpoints", record


def _kimg(workdir: Path, overrides: dict[str, Any], minutes: float) -> float:
    """Length (kimg) that fills ``minutes``, from a calibration run (kept in ``plan.json`` while settings match)."""
    import json

    path = workdir / "plan.json"
    key = json.loads(json.dumps({"overrides": overrides, "minutes": minutes}))
    if path.is_file() and json.loads(path.read_text()).get("settings") == key:
        return float(json.loads(path.read_text())["kimg"])
    timing = budget.calibrate_stylegan2(workdir / "run", overrides)
    batch = int(read_setting(bundle_file("stylegan2_ada", "train.json"), "batch_size", overrides))
    planned = budget.plan_stylegan2(minutes * 60.0, timing, batch)
    runs.write_json({"settings": key, "timing": timing.to_dict(), **planned}, path)
    return float(planned["kimg"])


def _chosen_variants(settings: AblationSettings) -> list[tuple[str, bool, bool, str]]:
    """``(name, ada, transfer, run folder)`` of the variants to run: ``settings.variants``, or all four."""
    unknown = sorted(set(settings.variants) - set(VARIANT_KEYS))
    if unknown:
        raise ValueError(f"unknown variants {unknown}; choose from {list(VARIANT_KEYS)}")
    return [(name, ada, transfer, f"variant{i}_{variant_key(ada, transfer)}")
            for i, (name, ada, transfer) in enumerate(VARIANTS)
            if not settings.variants or variant_key(ada, transfer) in settings.variants]  # fmt: skip


def run_ablation(settings: AblationSettings) -> dict[str, Any]:
    """Pretrain, train the four variants, sample, score; write ``ablation.json`` / ``ablation.md``."""
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = _chosen_variants(settings)
    transfers = any(transfer for _, _, transfer, _ in chosen)
    pretrained, pre_record = _pretrain(settings, out) if transfers else (Path(), None)
    target = {**target_data(settings, out), **settings.stylegan2}
    kimg = _kimg(out / "calibration" / "target", {**target, **_ada_overrides(settings)}, settings.minutes)
    real = reference_images(settings.target, settings.image_size, 1, settings.real_split, settings.phantom_count,
                            settings.seed)  # fmt: skip
    extractor = make_extractor(settings.device)
    rows = []
    for name, ada, transfer, run_name in chosen:
        run_dir = out / run_name
        variant = _variant_overrides(ada, transfer, pretrained, settings)
        record = runs.train_stylegan2(run_dir, {**target, **variant}, {"kimg": kimg})
        curve = ada_curve(run_dir)
        record["rt_end"] = curve["r_t"][-1] if curve["r_t"] else None
        sample = {"device": settings.device, "seed": settings.seed, **settings.stylegan2_sample}
        samples, record["sample_seconds"] = runs.sample_stylegan2(run_dir, settings.num_samples, sample)
        scores = score_samples(real, samples, run_dir / "evaluation", extractor, settings.bootstrap, settings.seed)
        rows.append({**record, **scores, "variant": name, "ada": ada, "transfer": transfer, "ada_curve": curve,
                     "length": f"{record['kimg']:.3g} kimg", "samples": str(samples)})  # fmt: skip
    source = settings.pretrained or settings.source or "the phantom"
    target_name = settings.target or "the phantom"
    title = f"StyleGAN2-ADA ablation: {settings.target_count} images of {target_name}"
    title += f", transfer from {source}" if transfers else ", from scratch"
    plot_ada_curves([(r["variant"], r["ada_curve"]) for r in rows], out / "ablation_ada.png", settings.ada_target)
    write_table(out, "ablation", title, rows, ABLATION_COLUMNS, asdict(settings), {"pretrain": pre_record})
    return {"rows": rows, "pretrain": pre_record, "title": title}


def run_ablation_seeds(settings: AblationSettings, seeds: Sequence[int]) -> dict[str, Any]:
    """``run_ablation`` once per seed (``<out>/seed_<n>``), all transferring from one source model.

    The source model is trained once, with the first seed, in ``<out>/pretrain`` (unless ``settings.pretrained``
    names one), so the seeds differ in the target runs only: their target subset, calibration, initialisation
    and noise. (So a seed folder is not the same as a single-seed run, which trains its own source model; the
    recorded settings refuse a mix-up.) Writes ``ablation_seeds.json`` / ``.md`` (mean ± sd) and
    ``ablation_ada_seeds.png`` (p and r_t of every seed's runs).
    """
    check_seeds(seeds)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    if not settings.pretrained and any(transfer for _, _, transfer, _ in _chosen_variants(settings)):
        pretrained, _ = _pretrain(replace(settings, seed=int(seeds[0])), out)
        settings = replace(settings, pretrained=str(pretrained))
    result = run_over_seeds(settings, seeds, run_ablation, "ablation", "variant", SEED_SCORES)
    curves = [(r["variant"], r["ada_curve"]) for rows in result["per_seed"].values() for r in rows]
    plot_ada_curves(curves, out / "ablation_ada_seeds.png", settings.ada_target)
    return result
