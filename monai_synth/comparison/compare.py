"""``monai-synth compare``: Medfusion and StyleGAN2-ADA trained on the same data with the same compute budget.

Like Table 3 of Mueller-Franzes et al. (Medfusion), one row per model with FID, precision and recall (plus KID
and the measured training seconds), all scored by ``monai_synth.metrics.evaluate`` against the same real
reference split. Steps, each skipped when already done so an interrupted comparison resumes:

1. train each model with its bundle's own wall-clock budget, ``budget_minutes = minutes`` (Medfusion:
   ``autoencoder_fraction`` of it for the autoencoder, the rest for the diffusion model). Each run times its
   first iterations on the real data, plans the length that fits (recorded in its ``budget.json``, reused on
   resume) and stops on the clock at 1.25 x the budget if it runs over, so equal compute means equal measured
   training seconds, up to the part of an epoch (Medfusion) the plan rounds down;
2. write ``num_samples`` balanced samples with each bundle's ``sample.json``;
3. score them and write ``compare.json`` and ``compare.md`` (with each run's planned and spent seconds).

``run_compare_seeds`` repeats all of it for several seeds and summarises the scores over them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from monai_synth.comparison import runs
from monai_synth.comparison.scoring import make_extractor, reference_images, score_samples
from monai_synth.comparison.seeds import run_over_seeds
from monai_synth.comparison.table import write_table

logger = logging.getLogger(__name__)

COMPARE_COLUMNS = ("model", "fid", "kid_mean", "precision", "recall", "train_seconds", "length")
SEED_SCORES = ("fid", "kid_mean", "precision", "recall", "train_seconds")


@dataclass
class CompareSettings:
    """What ``monai-synth compare`` was asked to do (see ``monai-synth compare --help``)."""

    out: str
    dataset: str = ""
    image_size: int = 32
    channels: int = 1
    minutes: float = 30.0
    num_samples: int = 500
    device: str = "cpu"
    split: str = "train"
    real_split: str = "test"
    seed: int = 0
    phantom_count: int = 512
    autoencoder_fraction: float = 0.25
    bootstrap: int = 50
    medfusion: dict[str, Any] = field(default_factory=dict)
    stylegan2: dict[str, Any] = field(default_factory=dict)
    medfusion_sample: dict[str, Any] = field(default_factory=dict)
    stylegan2_sample: dict[str, Any] = field(default_factory=dict)

    def common(self) -> dict[str, Any]:
        """Bundle keys both models get: the same data, size, seed and device."""
        return {"dataset_dir": self.dataset or "", "image_size": self.image_size, "channels": self.channels,
                "split": self.split, "seed": self.seed, "device": self.device,
                "phantom_count": self.phantom_count}  # fmt: skip


def _train_and_sample(settings: CompareSettings, out: Path) -> dict[str, dict]:
    common = settings.common()
    sample_common = {"device": settings.device, "seed": settings.seed}
    mf_dir, sg_dir = out / "medfusion", out / "stylegan2_ada"
    mf_budget = {"budget_minutes": settings.minutes, "autoencoder_budget_share": settings.autoencoder_fraction}
    mf = runs.train_medfusion(mf_dir, {**common, **settings.medfusion}, mf_budget)
    sg = runs.train_stylegan2(sg_dir, {**common, **settings.stylegan2}, {"budget_minutes": settings.minutes})
    mf["samples"], mf["sample_seconds"] = runs.sample_medfusion(
        mf_dir, settings.num_samples, mf["num_classes"], {**sample_common, **settings.medfusion_sample})
    sg["samples"], sg["sample_seconds"] = runs.sample_stylegan2(
        sg_dir, settings.num_samples, {**sample_common, **settings.stylegan2_sample})  # fmt: skip
    mf["length"] = f"AE {mf['autoencoder_epochs']} + DM {mf['diffusion_epochs']} epochs"
    sg["length"] = f"{sg['kimg']:.3g} kimg"
    return {"medfusion": mf, "stylegan2_ada": sg}


def run_compare(settings: CompareSettings) -> dict[str, Any]:
    """Train on a budget, sample, score; write ``compare.json`` / ``compare.md`` in ``settings.out``; return the rows."""
    if not 0.0 < settings.autoencoder_fraction < 1.0:
        raise ValueError(f"autoencoder_fraction must be in (0, 1), got {settings.autoencoder_fraction}")
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    logger.info("budget %.1f min per model", settings.minutes)
    results = _train_and_sample(settings, out)
    real = reference_images(settings.dataset, settings.image_size, settings.channels, settings.real_split,
                            settings.phantom_count, settings.seed)  # fmt: skip
    extractor = make_extractor(settings.device)
    rows = []
    for model, record in results.items():
        scores = score_samples(real, Path(record["samples"]), out / model / "evaluation", extractor,
                               settings.bootstrap, settings.seed)  # fmt: skip
        rows.append({**record, **scores, "model": model, "samples": str(record["samples"])})
    title = f"Medfusion vs StyleGAN2-ADA on {settings.dataset or 'the phantom'} ({settings.minutes:g} min per model)"
    budgets = {model: record.get("budget") for model, record in results.items()}
    write_table(out, "compare", title, rows, COMPARE_COLUMNS, asdict(settings), {"budgets": budgets})
    return {"rows": rows, "budgets": budgets, "title": title}


def run_compare_seeds(settings: CompareSettings, seeds: Sequence[int]) -> dict[str, Any]:
    """``run_compare`` once per seed (``<out>/seed_<n>``), then ``compare_seeds.json`` / ``.md``: mean ± sd."""
    return run_over_seeds(settings, seeds, run_compare, "compare", "model", SEED_SCORES)
