"""``monai-synth compare``: Medfusion and StyleGAN2-ADA trained on the same data with the same compute budget.

Like Table 3 of Mueller-Franzes et al. (Medfusion), one row per model with FID, precision and recall (plus KID
and the measured training seconds), all scored by ``monai_synth.metrics.evaluate`` against the same real
reference split. Steps, each skipped when already done so an interrupted comparison resumes:

1. calibrate: a few timed iterations of each bundle (``calibration.json``, reused while settings are equal);
2. train each model for the length that fills ``minutes`` (Medfusion: ``autoencoder_fraction`` of it for the
   autoencoder, the rest for the diffusion model);
3. write ``num_samples`` balanced samples with each bundle's ``sample.json``;
4. score them and write ``compare.json`` and ``compare.md``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from monai_synth.comparison import budget, runs
from monai_synth.comparison.bundle_runs import read_setting
from monai_synth.io.bundle_configs import bundle_file
from monai_synth.comparison.scoring import make_extractor, reference_images, score_samples
from monai_synth.comparison.table import write_table
from monai_synth.data import build_datalist

logger = logging.getLogger(__name__)

COMPARE_COLUMNS = ("model", "fid", "kid_mean", "precision", "recall", "train_seconds", "length")


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


def calibrate(settings: CompareSettings, out: Path) -> dict[str, Any]:
    """Seconds per iteration of both models (read back from ``calibration.json`` when the settings match)."""
    import json

    common = settings.common()
    key = {"medfusion": {**common, **settings.medfusion}, "stylegan2": {**common, **settings.stylegan2}}
    path = out / "calibration.json"
    if path.is_file() and json.loads(path.read_text()).get("settings") == json.loads(json.dumps(key)):
        return json.loads(path.read_text())
    medfusion = budget.calibrate_medfusion(out / "calibration" / "medfusion", key["medfusion"])
    stylegan2 = budget.calibrate_stylegan2(out / "calibration" / "stylegan2_ada", key["stylegan2"])
    result = {"settings": key, "medfusion": {k: v.to_dict() for k, v in medfusion.items()},
              "stylegan2_ada": stylegan2.to_dict()}  # fmt: skip
    runs.write_json(result, path)
    return result


def _num_images(settings: CompareSettings) -> int:
    if not settings.dataset:
        return settings.phantom_count
    return len(build_datalist(settings.dataset, split=settings.split))


def plan(settings: CompareSettings, calibration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Run lengths that fill the budget: ``{"medfusion": {...epochs}, "stylegan2_ada": {"kimg": ...}}``."""
    seconds = settings.minutes * 60.0
    mf = {**settings.common(), **settings.medfusion}
    sg = {**settings.common(), **settings.stylegan2}
    mf_config = bundle_file("medfusion", "train.json")
    timings = {k: budget.StepTiming(**v) for k, v in calibration["medfusion"].items()}
    medfusion = budget.plan_medfusion(
        seconds, timings, _num_images(settings), int(read_setting(mf_config, "batch_size", mf)),
        int(read_setting(mf_config, "autoencoder_batch_size", mf)), settings.autoencoder_fraction,
    )  # fmt: skip
    sg_batch = int(read_setting(bundle_file("stylegan2_ada", "train.json"), "batch_size", sg))
    stylegan2 = budget.plan_stylegan2(seconds, budget.StepTiming(**calibration["stylegan2_ada"]), sg_batch)
    return {"medfusion": medfusion, "stylegan2_ada": stylegan2}


def _train_and_sample(settings: CompareSettings, out: Path, plans: dict[str, dict[str, Any]]) -> dict[str, dict]:
    common = settings.common()
    sample_common = {"device": settings.device, "seed": settings.seed}
    mf_dir, sg_dir = out / "medfusion", out / "stylegan2_ada"
    epochs = {k: plans["medfusion"][k] for k in ("autoencoder_epochs", "diffusion_epochs")}
    mf = runs.train_medfusion(mf_dir, {**common, **settings.medfusion}, epochs)
    sg = runs.train_stylegan2(sg_dir, {**common, **settings.stylegan2}, plans["stylegan2_ada"]["kimg"])
    mf["samples"], mf["sample_seconds"] = runs.sample_medfusion(
        mf_dir, settings.num_samples, mf["num_classes"], {**sample_common, **settings.medfusion_sample})
    sg["samples"], sg["sample_seconds"] = runs.sample_stylegan2(
        sg_dir, settings.num_samples, {**sample_common, **settings.stylegan2_sample})  # fmt: skip
    mf["length"] = f"AE {epochs['autoencoder_epochs']} + DM {epochs['diffusion_epochs']} epochs"
    sg["length"] = f"{sg['kimg']:.3g} kimg"
    return {"medfusion": mf, "stylegan2_ada": sg}


def run_compare(settings: CompareSettings) -> dict[str, Any]:
    """Calibrate, train, sample, score; write ``compare.json`` / ``compare.md`` in ``settings.out``; return the rows."""
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    calibration = calibrate(settings, out)
    plans = plan(settings, calibration)
    logger.info("budget %.1f min per model: %s", settings.minutes, plans)
    results = _train_and_sample(settings, out, plans)
    real = reference_images(settings.dataset, settings.image_size, settings.channels, settings.real_split,
                            settings.phantom_count, settings.seed)  # fmt: skip
    extractor = make_extractor(settings.device)
    rows = []
    for model, record in results.items():
        scores = score_samples(real, Path(record["samples"]), out / model / "evaluation", extractor,
                               settings.bootstrap, settings.seed)  # fmt: skip
        rows.append({**record, **scores, "model": model, "samples": str(record["samples"])})
    title = f"Medfusion vs StyleGAN2-ADA on {settings.dataset or 'the phantom'} ({settings.minutes:g} min per model)"
    write_table(out, "compare", title, rows, COMPARE_COLUMNS, asdict(settings),
                {"calibration": calibration, "plans": plans})  # fmt: skip
    return {"rows": rows, "plans": plans}
