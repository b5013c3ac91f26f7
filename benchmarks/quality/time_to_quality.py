"""Time to quality of Medfusion training recipes: quality against training minutes, then against sampler steps.

Each recipe is a small set of overrides of ``bundles/medfusion/train.json`` (or a preset of ``configs/presets``
layered over it); every (recipe, budget) is trained by
the bundle's own command in a subprocess, as a user would run it (``budget_minutes`` covers the autoencoder and
the diffusion phase: the autoencoder gets ``autoencoder_budget_share``, the diffusion phase what it left)::

  python -m monai.bundle run --config_file bundles/medfusion/train.json --dataset_dir DATA --split train \
      --image_size S --budget_minutes B --output_dir OUT/runs/<recipe>_<B>min [recipe overrides] \
      [--override ...] --evaluation#interval 0

Recipes (:data:`RECIPES`):

- ``new``: the bundle's defaults as they are in ``train.json`` (v-prediction, its ``sample`` settings);
- ``old``: the 2020-2022 recipe at the same widths: epsilon prediction, sampled by DDIM 50 steps with eta 1 (the
  only setting that gave usable images with epsilon prediction) and the earlier guidance scale 2, with the bundle's earlier speed settings
  (fp32 on CPU, bf16 on CUDA; channels-last everywhere). The autoencoder's precision follows ``precision`` as in
  ``new`` (the earlier release's bf16 everywhere was a speed bug, 27x slower on CPUs that emulate bf16, not
  part of the recipe), whole images in the autoencoder phase (``autoencoder_crop`` unset) and 4 latent
  channels (pinned, as when the recipes were first compared);
- ``flow``: rectified flow, the preset ``configs/presets/rectified_flow.json`` (velocity prediction,
  logit-normal training times as SD3 and MAISI), sampled by Euler with the bundle's steps and guidance. (Until
  the preset, the recipe drew training times uniformly: the 10-minute figures of the bundle docs say which.)
- ``minsnr``: ``new`` with Min-SNR-gamma loss weighting, gamma 5 (Hang et al. 2023).
- ``edm``: EDM preconditioning (Karras et al. 2022), the preset ``configs/presets/edm.json``, sampled by EDM's Heun sampler
  with 10 noise levels (19 UNet evaluations, about the bundle's 20 DDIM steps) and the bundle's guidance.
  ``sigma_data`` is 1 because the latents are scaled to unit variance; the training noise levels are EDM's own
  (``P_mean = -1.2``, ``P_std = 1.2``). EDM2's latent-space levels expressed for unit-variance latents
  (``P_mean = 0.3``, ``P_std = 1.0``) measured 11 % worse on MedNIST at 10 minutes (bundle docs).

Each trained run is scored with the sampler settings its training recorded (``metrics.json#sampler``, i.e. the
recipe's own): ``--per-class`` images per class, the same seeds for every run, against the real test split
(the phantom: a second phantom draw, seed 1):

- FID, KID, precision and recall (Inception pool3 features, :mod:`monai_synth.metrics`);
- conditional fidelity, overall and per class: a classifier trained once on the real training split (cached in
  ``OUT/classifier.pt``) labels the samples; the share labelled with the class they were generated for;
- anatomy share: on the phantom, the share of samples whose cardiothoracic ratio can be measured (lungs and
  heart found, :func:`monai_synth.data.ctr.measurable_ctr_share`). On real data there is no anatomy detector:
  the share of samples that the real-trained classifier labels with a max softmax >= 0.9 ("recognisable
  share") stands in for it. It is a proxy: a confident classifier is not a radiologist, and a confidently
  labelled image may still be anatomically wrong.

Two references put the FIDs in scale (``--floors``, on by default), both against the same real test split:

- ``real_floor`` (once per study): real *training* images, as many per class as the samples, in place of the
  samples. With a few hundred images FID is biased upwards; this is the FID a perfect generator would get here.
- ``reconstruction`` (per run): the same training images passed through the run's autoencoder (posterior mean,
  decoded). The latent diffusion model generates through this decoder, so this is about the best its samples
  can score: the autoencoder's ceiling. PSNR of the reconstructions is recorded too.

Then (``--sweep``, on by default) the run with the lowest FID (or each of ``--sweep-runs``) is sampled again with 5, 10, 20, 50 and 150
steps of each sampler that fits its objective: DDIM eta 0, DPM-Solver++ 2M and DDIM eta 1 for epsilon / v
prediction; Euler and Heun for rectified flow; EDM's Euler and Heun for EDM (``--sweep-samplers ddim:0 ddim:1``
keeps only those).

With ``--guidance W ...`` the best run (or each of ``--guidance-runs``) is sampled again with its own sampler and
steps at each guidance scale and scored in full (FID, KID, precision, recall, conditional fidelity per class,
anatomy share): ``guidance.png`` and a table. ``--guidance-sampler ddim:50:1`` samples with that setting instead
of each run's own (stored beside the run's own sweep), so that two runs can be compared at the same sampler.

The study is resumable: a run whose ``metrics.json`` exists is not trained again, and ``results.json`` is
written (atomically) after each evaluated run and each sweep point; a rerun skips what it holds. Outputs in
``--out``: ``results.json``, ``results.md`` (also printed), ``time_to_quality.png``, ``steps.png``, the run
folders under ``runs/`` and their training logs.

Real study (idle machine, one run; see benchmarks/README.md):

  python benchmarks/quality/time_to_quality.py --out runs/time_to_quality/mednist_64

Smoke run (tiny networks, phantom): ``--data '' --image-size 16 --budgets 0.05 --per-class 2 --override KEY=VALUE ...``
with the tiny overrides of tests/benchmarks/test_time_to_quality.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from any folder: this checkout's library
    sys.path.insert(0, str(REPO))

from monai_synth.data.ctr import measurable_ctr_share  # noqa: E402
from monai_synth.engines.image_tensors import load_image_tensors  # noqa: E402
from monai_synth.engines.medfusion import load_medfusion  # noqa: E402
from monai_synth.engines.medfusion.pipeline import MedfusionPipeline  # noqa: E402
from monai_synth.engines.run_files import now_iso, save_json_atomic  # noqa: E402
from monai_synth.io.json_values import json_ready  # noqa: E402
from monai_synth.metrics.fidelity import fidelity_metrics  # noqa: E402
from monai_synth.metrics.utility.classifiers import build_network, predict_probabilities, train_network  # noqa: E402
from monai_synth.metrics.utility.conditional import conditional_fidelity  # noqa: E402

TRAIN_JSON = REPO / "bundles" / "medfusion" / "train.json"
DEFAULT_DATA = str((REPO / ".." / "shared" / "data" / "mednist_64_500" / "split.csv").resolve())

PRESETS = REPO / "configs" / "presets"
PRESET = "preset"  # a recipe key: a file of configs/presets layered over train.json (before the other overrides)

#: Recipes as overrides of ``bundles/medfusion/train.json`` (``#`` ids as on the bundle command line). ``new`` is
#: the bundle as it is; values starting with ``$`` are MONAI expressions (``$None``: unset a default). ``flow``
#: and ``edm`` are the bundle's presets ``configs/presets/rectified_flow.json`` and ``edm.json``.
RECIPES: dict[str, dict[str, Any]] = {
    "new": {},
    "old": {"prediction": "epsilon", "sample#steps": 50, "sample#eta": 1.0, "sample#guidance_scale": 2.0,
            "evaluation#steps": 50, "evaluation#eta": 1.0, "evaluation#guidance_scale": 2.0,
            "precision": "$'bf16' if torch.cuda.is_available() else 'fp32'", "channels_last": True,
            "autoencoder_crop": "$None", "autoencoder_def#latent_channels": 4},
    "flow": {PRESET: "rectified_flow"},
    "edm": {PRESET: "edm"},
    "minsnr": {"diffusion_step#min_snr_gamma": 5.0},
}  # fmt: skip

#: Samplers of the step sweep (sampler, eta) by what the UNet predicts.
SWEEP_SAMPLERS: dict[str, list[tuple[str, float]]] = {
    "epsilon": [("ddim", 0.0), ("dpmpp_2m", 0.0), ("ddim", 1.0)],
    "v": [("ddim", 0.0), ("dpmpp_2m", 0.0), ("ddim", 1.0)],
    "velocity": [("euler", 0.0), ("heun", 0.0)],
    "edm": [("edm_euler", 0.0), ("edm_heun", 0.0)],
}
RECOGNISABLE = 0.9  # max softmax of the real-trained classifier that counts a sample as recognisable (real data)


# --------------------------------------------------------------------------------------------------- training
def run_name(recipe: str, budget: float) -> str:
    return f"{recipe}_{budget:g}min"


def cli_value(value: Any) -> str:
    """A value as the bundle command line reads it (strings as they are, the rest as Python literals)."""
    return value if isinstance(value, str) else repr(value)


def parse_override(text: str) -> tuple[str, str]:
    """``"unet_def#channels=[16,32]"`` -> ("unet_def#channels", "[16,32]") (the value is passed on as typed)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"an override is KEY=VALUE, got {text!r}")
    return key.lstrip("-"), value


def train_command(recipe: str, budget: float, run_dir: Path, a: argparse.Namespace) -> list[str]:
    """The bundle command of one (recipe, budget): the study's data, size and budget, the recipe, the overrides."""
    recipe_overrides = dict(RECIPES[recipe])
    files = [str(TRAIN_JSON)] + ([str(PRESETS / f"{recipe_overrides.pop(PRESET)}.json")]
                                 if PRESET in recipe_overrides else [])
    config_file = files[0] if len(files) == 1 else repr(files)
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", config_file, "--dataset_dir", a.data,
           "--split", "train", "--image_size", str(a.image_size), "--budget_minutes", f"{budget:g}",
           "--output_dir", str(run_dir)]  # fmt: skip
    if a.device:
        cmd += ["--device", a.device]
    for key, value in [*recipe_overrides.items(), *a.override]:
        cmd += [f"--{key}", cli_value(value)]
    return cmd + ["--evaluation#interval", "0"]


def train(recipe: str, budget: float, a: argparse.Namespace) -> dict[str, Any]:
    """Train one run unless it is finished; return its training record (measured wall seconds, command)."""
    runs = a.out / "runs"
    run_dir, record_path = runs / run_name(recipe, budget), runs / f"{run_name(recipe, budget)}.train.json"
    if (run_dir / "metrics.json").is_file():
        return json.loads(record_path.read_text()) if record_path.is_file() else {"wall_seconds": None,
                                                                                    "note": "trained outside the study"}
    runs.mkdir(parents=True, exist_ok=True)
    cmd = train_command(recipe, budget, run_dir, a)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    resumed = run_dir.exists()
    log = runs / f"{run_name(recipe, budget)}.log"
    print(f"[train] {run_name(recipe, budget)}: {shlex.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    with log.open("a") as fh:
        done = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if done.returncode != 0 or not (run_dir / "metrics.json").is_file():
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"training {run_name(recipe, budget)} failed (exit {done.returncode}); log {log}:\n{tail}")
    record = {"wall_seconds": round(wall, 2), "resumed": resumed, "finished_at": now_iso(), "command": cmd[1:]}
    save_json_atomic(record, record_path)
    return record


def budget_record(metrics: dict, budget_minutes: float) -> dict[str, Any]:
    """The run's budget and the spent seconds of its two phases, as the run recorded them (``metrics.json#budget``).

    The phases' own budgets do not add up to the run's: the diffusion phase gets what the autoencoder left.
    """
    phases = metrics.get("budget") or {}
    total = {
        "planned_seconds": float(budget_minutes) * 60.0,
        "spent_train_seconds": sum(float(p.get("spent_train_seconds", 0.0)) for p in phases.values()),
        "spent_wall_seconds": sum(float(p.get("spent_wall_seconds", 0.0)) for p in phases.values()),
    }
    return {"phases": phases, **{k: round(v, 2) for k, v in total.items()}}


# ------------------------------------------------------------------------------------------------- evaluation
class Reference:
    """The real sets of the study, their features and the classifier trained on the real training split."""

    def __init__(self, a: argparse.Namespace, image_size: int, channels: int, extractor) -> None:
        data = a.data or None
        self.phantom = data is None
        kw = {"phantom_count": a.phantom_count}
        self.train = load_image_tensors(data, image_size, channels, split="train", seed=0, **kw)
        self.test = load_image_tensors(data, image_size, channels, split="test", seed=1,
                                       num_classes=self.train.num_classes, **kw)  # fmt: skip
        self.class_names = list(self.train.class_names)
        self.extractor = extractor
        self.test_features = extractor(self.test.images)
        self.classifier, self.classifier_info = self._classifier(a, data, image_size, channels)
        self.test_predicted = predict_probabilities(self.classifier, self.test.images).argmax(1)

    def _classifier(self, a, data, image_size: int, channels: int):
        steps = a.classifier_steps or 8 * max(1, len(self.train) // 64)
        key = {"data": data or "phantom", "image_size": image_size, "channels": channels, "network": a.classifier,
               "steps": steps, "seed": 0, "num_classes": len(self.class_names), "n_train": len(self.train)}
        path = a.out / "classifier.pt"
        torch.manual_seed(0)
        net = build_network(a.classifier, channels, image_size, len(self.class_names))
        cached = torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None
        if cached is not None and json.loads(cached["key"]) == key:
            net.load_state_dict(cached["state"])
            return net.eval(), {**key, "cached": True}
        with torch.enable_grad():
            start = time.perf_counter()
            net = train_network(net, self.train.images, self.train.labels, steps, seed=0)
        a.out.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".classifier.pt.tmp")
        torch.save({"key": json.dumps(key), "state": net.state_dict()}, tmp)
        tmp.replace(path)
        return net.eval(), {**key, "cached": False, "train_seconds": round(time.perf_counter() - start, 1)}

    def fidelity(self, images: torch.Tensor, kid_subsets: int) -> dict[str, float]:
        """FID, KID, precision and recall against the real test split."""
        scores = fidelity_metrics(self.test_features, self.extractor(images), kid_subsets=kid_subsets)
        return {k: float(v) for k, v in scores.items()}

    def score(self, images: torch.Tensor, labels: torch.Tensor, kid_subsets: int) -> dict[str, Any]:
        """FID, KID, precision, recall; conditional fidelity (overall, per class); anatomy share."""
        row: dict[str, Any] = self.fidelity(images, kid_subsets)
        probs = predict_probabilities(self.classifier, images)
        cf = conditional_fidelity(labels.numpy(), [probs.argmax(1)], self.class_names, self.test.labels.numpy(),
                                  [self.test_predicted], num_resamples=1000)  # fmt: skip
        row["conditional_fidelity"] = cf["score"]["mean"]
        row["conditional_fidelity_ci"] = cf["score"]["ci"]
        row["conditional_fidelity_balanced"] = cf["balanced_score"]["mean"]
        row["conditional_fidelity_per_class"] = {
            name: {"share": e["share"]["mean"], "ci": e["share"]["ci"], "real_recall": e.get("real_recall")}
            for name, e in cf["per_class"].items()
        }
        row["confusion"] = cf["confusion"]
        per_class_share = {}
        if self.phantom:
            row["anatomy_measure"] = "measurable CTR (phantom)"
            row["anatomy_share"] = measurable_ctr_share(images)
            for c, name in enumerate(self.class_names):
                per_class_share[name] = measurable_ctr_share(images[labels == c])
        else:
            row["anatomy_measure"] = (f"recognisable share: real-trained classifier max softmax >= {RECOGNISABLE} "
                                      "(proxy)")
            sure = probs.max(1) >= RECOGNISABLE
            row["anatomy_share"] = float(sure.mean())
            for c, name in enumerate(self.class_names):
                sel = labels.numpy() == c
                per_class_share[name] = float(sure[sel].mean()) if sel.any() else math.nan
        row["anatomy_share_per_class"] = per_class_share
        return row


    def floor_images(self, per_class: int) -> torch.Tensor:
        """The first ``per_class`` real training images of each class (the reference sets' stand-in samples)."""
        idx = [(self.train.labels == c).nonzero().flatten()[:per_class] for c in range(len(self.class_names))]
        return self.train.images[torch.cat(idx)]


@torch.no_grad()
def reconstructions(vae: torch.nn.Module, images: torch.Tensor, device: torch.device, batch: int) -> torch.Tensor:
    """The autoencoder's reconstructions (posterior mean, decoded) of ``images`` in [-1, 1], fp32, on the CPU."""
    out = []
    for chunk in images.split(batch):
        mu, _ = vae.encode(chunk.to(device))
        out.append(vae.decode(mu).float().clamp(-1, 1).cpu())
    return torch.cat(out)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR (dB) of image pairs in [-1, 1] (data range 2)."""
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(4.0 / mse)).mean())


def floors(results: dict, name: str, model: dict, ref: Reference, a: argparse.Namespace, path: Path) -> None:
    """Add the study's ``real_floor`` (once) and the run's autoencoder ``reconstruction`` scores, if missing."""
    real = ref.floor_images(a.per_class)
    key = {"per_class": a.per_class, "kid_subsets": a.kid_subsets, "data": a.data or "phantom"}
    if results.get("real_floor", {}).get("key") != key:
        results["real_floor"] = {"key": key, "n": len(real), **ref.fidelity(real, a.kid_subsets)}
    row = results["runs"][name]
    rkey = {**key, "autoencoder_sha256": model["autoencoder_sha256"]}
    if row.get("reconstruction", {}).get("key") != rkey:
        rec = reconstructions(model["vae"], real, a.eval_device, a.batch)
        row["reconstruction"] = {"key": rkey, "n": len(rec), "psnr_db": psnr_db(rec, real),
                                 **ref.fidelity(rec, a.kid_subsets)}  # fmt: skip
        print(f"[floor] {name}: autoencoder reconstructions FID {row['reconstruction']['fid']:.2f} "
              f"(real training images {results['real_floor']['fid']:.2f})", flush=True)
    save_results(results, path)


def sample(model: dict, sampler: str, steps: int, eta: float, guidance: float, a) -> tuple[torch.Tensor, torch.Tensor,
                                                                                             float]:
    """``--per-class`` images per class with the study's seeds; images, labels and the sampling seconds."""
    pipeline = MedfusionPipeline(model, sampler=sampler, steps=int(steps), eta=float(eta),
                                 guidance_scale=float(guidance), device=a.eval_device, precision=a.precision,
                                 channels_last=True)  # fmt: skip
    start = time.perf_counter()
    images, labels = pipeline.per_class(a.per_class, a.seed, a.batch)
    return images, labels, time.perf_counter() - start


def evaluation_key(a: argparse.Namespace, ref: Reference, model: dict) -> dict[str, Any]:
    """What a stored evaluation depends on: a row with another key is measured again."""
    return {"per_class": a.per_class, "seed": a.seed, "precision": a.precision, "data": a.data or "phantom",
            "classifier": {k: v for k, v in ref.classifier_info.items() if k not in ("cached", "train_seconds")},
            "checkpoint_sha256": model["checkpoint_sha256"], "kid_subsets": a.kid_subsets}


# ------------------------------------------------------------------------------------------------ the study
def load_results(path: Path) -> dict[str, Any]:
    """``results.json`` (an older one's single ``sweep`` becomes its entry of ``sweeps``), or an empty study."""
    results = json.loads(path.read_text()) if path.is_file() else {"runs": {}}
    old = results.pop("sweep", None)
    results.setdefault("sweeps", {})
    results.setdefault("guidance_sweeps", {})
    if old and old.get("run"):
        results["sweeps"].setdefault(old["run"], old)
    return results


def save_results(results: dict, path: Path) -> None:
    save_json_atomic(json_ready(results), path)


def best_run(results: dict, names: Sequence[str]) -> str | None:
    fids = {n: results["runs"][n]["fid"] for n in names if n in results["runs"]}
    fids = {n: f for n, f in fids.items() if f is not None and math.isfinite(f)}
    return min(fids, key=fids.get) if fids else None


def chosen_runs(results: dict, names: Sequence[str], chosen: Sequence[str] | None, flag: str) -> list[str]:
    """The runs a sweep covers: those named by ``flag``, or the one with the lowest FID."""
    if chosen is None:
        return [n for n in [best_run(results, names)] if n is not None]
    for name in chosen:
        if name not in results["runs"]:
            raise SystemExit(f"{flag}: {name!r} is not a run of this study ({', '.join(names)})")
    return list(chosen)


def sweep_samplers(prediction: str, chosen: Sequence[tuple[str, float]] | None) -> list[tuple[str, float]]:
    """The (sampler, eta) pairs of the step sweep for a model of this prediction: all that fit, or those chosen."""
    fitting = SWEEP_SAMPLERS[prediction]
    if chosen is None:
        return fitting
    picked = [pair for pair in fitting if pair in chosen]
    if not picked:
        raise SystemExit(f"--sweep-samplers: none of {_pairs(chosen)} samples a {prediction!r} model "
                         f"(it takes {_pairs(fitting)})")
    return picked


def _pairs(pairs: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{sampler}:{eta:g}" for sampler, eta in pairs)


def parse_sampler(text: str) -> tuple[str, float]:
    """``ddim:1`` -> ("ddim", 1.0); ``heun`` -> ("heun", 0.0)."""
    sampler, _, eta = text.partition(":")
    try:
        return sampler, float(eta or 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SAMPLER or SAMPLER:ETA, e.g. ddim:1") from None


def sweep(results: dict, name: str, a, ref: Reference, path: Path) -> None:
    """FID at each step count of each sampler that fits the run's objective, saved point by point."""
    model = load_medfusion(a.out / "runs" / name, a.eval_device)
    guidance = results["runs"][name]["sampling"]["guidance_scale"]
    key = {**evaluation_key(a, ref, model), "run": name}
    if results["sweeps"].get(name, {}).get("key") != key:
        results["sweeps"][name] = {"run": name, "key": key, "guidance_scale": guidance, "rows": []}
    swept = results["sweeps"][name]
    done = {(r["sampler"], r["eta"], r["steps"]) for r in swept["rows"]}
    for sampler, eta in sweep_samplers(model.get("prediction", "epsilon"), a.sweep_samplers):
        for steps in a.sweep_steps:
            if (sampler, eta, steps) in done:
                continue
            row: dict[str, Any] = {"sampler": sampler, "eta": eta, "steps": steps}
            try:
                images, labels, seconds = sample(model, sampler, steps, eta, guidance, a)
            except ValueError as err:  # e.g. more steps than the schedule has
                row["error"] = str(err)
            else:
                row["sampling_seconds"] = round(seconds, 2)
                row.update(ref.fidelity(images, a.kid_subsets))
            swept["rows"].append(row)
            save_results(results, path)
            fid = row.get("fid", float("nan"))
            print(f"[sweep] {name} {_sampler_label(sampler, eta)} {steps} steps: FID {fid:.2f}", flush=True)


def parse_sampler_setting(text: str) -> dict[str, Any]:
    """``ddim:50:1`` -> {"sampler": "ddim", "steps": 50, "eta": 1.0}; the eta may be left out (0)."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        return {"sampler": parts[0], "steps": int(parts[1]), "eta": float(parts[2]) if len(parts) == 3 else 0.0}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SAMPLER:STEPS or SAMPLER:STEPS:ETA, "
                                         "e.g. ddim:50:1") from None


def guidance_sweep(results: dict, name: str, a, ref: Reference, path: Path) -> None:
    """Full scores (FID, conditional fidelity per class, anatomy share) at each ``--guidance`` scale, with the
    run's own sampler and steps (or ``--guidance-sampler``'s, stored under its own entry); saved point by point."""
    model = load_medfusion(a.out / "runs" / name, a.eval_device)
    s = a.guidance_sampler or results["runs"][name]["sampling"]
    entry = name if a.guidance_sampler is None else f"{name} @ {s['sampler']}:{s['steps']}:{s['eta']:g}"
    key = {**evaluation_key(a, ref, model), "run": name, "sampler": s["sampler"], "steps": s["steps"],
           "eta": s.get("eta", 0.0)}
    if results["guidance_sweeps"].get(entry, {}).get("key") != key:
        results["guidance_sweeps"][entry] = {"run": name, "key": key, "rows": []}
    swept = results["guidance_sweeps"][entry]
    done = {r["guidance_scale"] for r in swept["rows"]}
    for guidance in a.guidance:
        if float(guidance) in done:
            continue
        images, labels, seconds = sample(model, s["sampler"], s["steps"], s.get("eta", 0.0), guidance, a)
        row = {"guidance_scale": float(guidance), "sampling_seconds": round(seconds, 2),
               **ref.score(images, labels, a.kid_subsets)}
        swept["rows"].append(row)
        save_results(results, path)
        worst = min(v["share"] for v in row["conditional_fidelity_per_class"].values())
        print(f"[guidance] {entry} w={guidance:g}: FID {row['fid']:.2f}, conditional fidelity "
              f"{row['conditional_fidelity']:.3f} (worst class {worst:.3f})", flush=True)


@torch.no_grad()
def run_study(a: argparse.Namespace, extractor=None) -> dict[str, Any]:
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / "results.json"
    results = load_results(path)
    results["study"] = {"data": a.data or "phantom", "image_size": a.image_size,
                        "recipes": {r: RECIPES[r] for r in a.recipes}, "overrides": dict(a.override),
                        "budgets_minutes": a.budgets, "per_class": a.per_class, "seed": a.seed,
                        "precision": a.precision, "device": str(a.eval_device),
                        "train_json": str(TRAIN_JSON.relative_to(REPO)), "updated_at": now_iso()}  # fmt: skip
    ref: Reference | None = None
    names = []
    for budget in a.budgets:
        for recipe in a.recipes:
            name = run_name(recipe, budget)
            names.append(name)
            training = train(recipe, budget, a)
            run_dir = a.out / "runs" / name
            model = load_medfusion(run_dir, a.eval_device)
            if ref is None:
                if extractor is None:
                    from monai_synth.metrics import InceptionFeatureExtractor

                    extractor = InceptionFeatureExtractor(device=a.eval_device, progress=False)
                ref = Reference(a, int(model["image_size"]), int(model["channels"]), extractor)
                results["study"].update(n_test=len(ref.test), n_train=len(ref.train), class_names=ref.class_names,
                                        classifier=ref.classifier_info)
            key = evaluation_key(a, ref, model)
            if results["runs"].get(name, {}).get("key") == key:
                if a.floors:
                    floors(results, name, model, ref, a, path)
                continue
            metrics = json.loads((run_dir / "metrics.json").read_text())
            s = metrics["sampler"]  # the recipe's own sampling settings, as the bundle resolved them
            images, labels, seconds = sample(model, s["sampler"], s["steps"], s.get("eta", 0.0), s["guidance_scale"], a)
            row = {"recipe": recipe, "budget_minutes": budget, "key": key, "prediction": model.get("prediction"),
                   "sampling": {k: s[k] for k in ("sampler", "steps", "eta", "guidance_scale") if k in s},
                   "training": {**training, **budget_record(metrics, budget)}, "n": len(images),
                   "sampling_seconds": round(seconds, 2), **ref.score(images, labels, a.kid_subsets)}  # fmt: skip
            results["runs"][name] = row
            save_results(results, path)
            if a.floors:
                floors(results, name, model, ref, a, path)
            print(f"[eval] {name}: FID {row['fid']:.2f}, conditional fidelity {row['conditional_fidelity']:.3f}, "
                  f"anatomy share {row['anatomy_share']:.3f}", flush=True)
    results["study"]["runs"] = names
    save_results(results, path)
    if a.sweep and ref is not None:
        for name in chosen_runs(results, names, a.sweep_runs, "--sweep-runs"):
            sweep(results, name, a, ref, path)
    if a.guidance and ref is not None:
        for name in chosen_runs(results, names, a.guidance_runs, "--guidance-runs"):
            guidance_sweep(results, name, a, ref, path)
    results = json.loads(path.read_text())
    plot_minutes(results, names, a.out / "time_to_quality.png")
    plot_steps(results, a.out / "steps.png")
    if results["guidance_sweeps"]:
        plot_guidance(results, a.out / "guidance.png")
    table = markdown(results, names)
    (a.out / "results.md").write_text(table)
    print(table)
    return results


# ---------------------------------------------------------------------------------------------- plots, table
def _series(results: dict, names: Sequence[str]) -> dict[str, list[dict]]:
    by_recipe: dict[str, list[dict]] = {}
    for n in names:
        if n in results["runs"]:
            row = results["runs"][n]
            by_recipe.setdefault(row["recipe"], []).append(row)
    return {r: sorted(rows, key=lambda x: x["budget_minutes"]) for r, rows in by_recipe.items()}


def _num(value) -> float:
    return float("nan") if value is None else float(value)


def plot_minutes(results: dict, names: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("fid", "FID (lower is better)"), ("conditional_fidelity", "conditional fidelity"),
              ("anatomy_share", "anatomy share")]  # fmt: skip
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (key, label) in zip(axes, panels):
        for recipe, rows in _series(results, names).items():
            line, = ax.plot([r["budget_minutes"] for r in rows], [_num(r.get(key)) for r in rows], "o-", label=recipe)
            if key == "fid" and any("reconstruction" in r for r in rows):  # each run's autoencoder ceiling
                ceiling = [_num(r.get("reconstruction", {}).get("fid")) for r in rows]
                ax.plot([r["budget_minutes"] for r in rows], ceiling, "x--", color=line.get_color(), alpha=0.6,
                        label=f"{recipe}: AE reconstructions")
        if key == "fid" and results.get("real_floor"):
            ax.axhline(results["real_floor"]["fid"], color="grey", ls=":", label="real training images")
        ax.set_xticks(sorted({r["budget_minutes"] for rows in _series(results, names).values() for r in rows}))
        if key != "fid":  # shares: a fixed top, so that 0.997 against 1.0 does not fill the panel
            values = [_num(r.get(key)) for rows in _series(results, names).values() for r in rows]
            ax.set_ylim(min([0.5] + [v - 0.05 for v in values if math.isfinite(v)]), 1.02)
        ax.set_xlabel("training budget (minutes, autoencoder included)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    data = Path(results["study"]["data"]) if results["study"]["data"] else None
    name = "phantom" if data is None else (data.parent.name if data.suffix in (".csv", ".json") else data.name)
    fig.suptitle(f"Medfusion time to quality: {name}, {results['study']['image_size']} px")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_steps(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sweeps = results.get("sweeps", {})
    rows = [r for sw in sweeps.values() for r in sw["rows"] if r.get("fid") is not None]
    for name, sw in sweeps.items():
        ok = [r for r in sw["rows"] if r.get("fid") is not None]
        for sampler, eta in dict.fromkeys((r["sampler"], r["eta"]) for r in ok):
            points = sorted((r["steps"], r["fid"]) for r in ok if (r["sampler"], r["eta"]) == (sampler, eta))
            label = _sampler_label(sampler, eta) if len(sweeps) == 1 else f"{name}: {_sampler_label(sampler, eta)}"
            ax.plot(*zip(*points), "o-", label=label)
    ax.set_xscale("log")
    ax.set_xticks(sorted({r["steps"] for r in rows}), [str(n) for n in sorted({r["steps"] for r in rows})])
    ax.minorticks_off()
    ax.set_xlabel("sampler steps")
    ax.set_ylabel("FID")
    ax.set_title(f"step sweep: {', '.join(sweeps) or 'no run'}")
    ax.grid(alpha=0.3)
    if rows:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_guidance(results: dict, path: Path) -> None:
    """FID, and conditional fidelity (overall and of the worst class), against the guidance scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, sw in results["guidance_sweeps"].items():
        rows = sorted(sw["rows"], key=lambda r: r["guidance_scale"])
        scales = [r["guidance_scale"] for r in rows]
        left.plot(scales, [r["fid"] for r in rows], "o-", label=name)
        line, = right.plot(scales, [r["conditional_fidelity"] for r in rows], "o-", label=f"{name}: overall")
        worst = [min(v["share"] for v in r["conditional_fidelity_per_class"].values()) for r in rows]
        right.plot(scales, worst, "x--", color=line.get_color(), label=f"{name}: worst class")
    left.set_ylabel("FID (lower is better)")
    right.set_ylabel("conditional fidelity")
    for ax in (left, right):
        ax.set_xlabel("classifier-free guidance scale")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Medfusion: guidance against quality and class fidelity")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _sampler_label(sampler: str, eta: float) -> str:
    return f"{sampler} eta {float(eta):g}" if sampler == "ddim" else sampler


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}g}"


def markdown(results: dict, names: Sequence[str]) -> str:
    """Per-run table, ratio table new/old per budget, per-class conditional fidelity, step sweep."""
    runs = [results["runs"][n] for n in names if n in results["runs"]]
    lines = [f"## Time to quality: {results['study']['data']}, {results['study']['image_size']} px, "
             f"{results['study']['per_class']} images per class", "",
             "| recipe | budget (min) | wall (s) | spent AE+DM (s) | sampler | FID | KID | precision | recall "
             "| cond. fidelity | anatomy share | AE reconstruction FID (PSNR dB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in runs:
        s, t, rec = r["sampling"], r["training"], r.get("reconstruction", {})
        lines.append(f"| {r['recipe']} | {r['budget_minutes']:g} | {_fmt(t.get('wall_seconds'), 4)} | "
                     f"{_fmt(t.get('spent_wall_seconds'), 4)} | "
                     f"{_sampler_label(s['sampler'], s.get('eta', 0.0))} {s['steps']} | "
                     f"{_fmt(r['fid'])} | {_fmt(r['kid_mean'])} | {_fmt(r['precision'])} | {_fmt(r['recall'])} | "
                     f"{_fmt(r['conditional_fidelity'])} | {_fmt(r['anatomy_share'])} | "
                     f"{_fmt(rec.get('fid'))} ({_fmt(rec.get('psnr_db'))}) |")
    if runs:
        lines += ["", f"Anatomy share: {runs[0]['anatomy_measure']}."]
    if "real_floor" in results:
        f = results["real_floor"]
        lines += ["", f"Real floor: {f['n']} real training images in place of the samples score FID {_fmt(f['fid'])}, "
                  f"KID {_fmt(f['kid_mean'])}, precision {_fmt(f['precision'])}, recall {_fmt(f['recall'])}. "
                  "AE reconstruction: the same images through each run's autoencoder (its ceiling)."]
    budgets = sorted({r["budget_minutes"] for r in runs})
    by = {(r["recipe"], r["budget_minutes"]): r for r in runs}
    keys = ["fid", "kid_mean", "precision", "recall", "conditional_fidelity", "anatomy_share"]
    if any(("new", b) in by and ("old", b) in by for b in budgets):
        lines += ["", "### new / old", "", "| budget (min) | " + " | ".join(keys) + " |",
                  "|---" * (len(keys) + 1) + "|"]
        for b in budgets:
            if ("new", b) in by and ("old", b) in by:
                new, old = by["new", b], by["old", b]
                ratios = [_num(new.get(k)) / _num(old.get(k)) if _num(old.get(k)) else math.nan for k in keys]
                lines.append(f"| {b:g} | " + " | ".join(_fmt(x) for x in ratios) + " |")
    if runs:
        classes = list(runs[0]["conditional_fidelity_per_class"])
        lines += ["", "### conditional fidelity per class (real recall of the classifier in the last row)", "",
                  "| run | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
        for n in names:
            if n in results["runs"]:
                pc = results["runs"][n]["conditional_fidelity_per_class"]
                lines.append(f"| {n} | " + " | ".join(_fmt(pc.get(c, {}).get("share")) for c in classes) + " |")
        pc = runs[0]["conditional_fidelity_per_class"]
        lines.append("| real test | " + " | ".join(_fmt(pc.get(c, {}).get("real_recall")) for c in classes) + " |")
    for sw in results.get("sweeps", {}).values():
        rows = sw["rows"]
        steps = sorted({r["steps"] for r in rows})
        lines += ["", f"### FID against steps: {sw['run']} (guidance {sw['guidance_scale']:g})", "",
                  "| sampler | " + " | ".join(str(s) for s in steps) + " |", "|---" * (len(steps) + 1) + "|"]
        for sampler, eta in dict.fromkeys((r["sampler"], r["eta"]) for r in rows):
            fid = {r["steps"]: r.get("fid") for r in rows if (r["sampler"], r["eta"]) == (sampler, eta)}
            lines.append(f"| {_sampler_label(sampler, eta)} | " + " | ".join(_fmt(fid.get(s)) for s in steps) + " |")
    for sw in results.get("guidance_sweeps", {}).values():
        rows = sorted(sw["rows"], key=lambda r: r["guidance_scale"])
        if not rows:
            continue
        k, classes = sw["key"], list(rows[0]["conditional_fidelity_per_class"])
        lines += ["", f"### Guidance: {sw['run']} ({_sampler_label(k['sampler'], k['eta'])} {k['steps']} steps)", "",
                  "| guidance | FID | precision | recall | cond. fidelity | anatomy share | "
                  + " | ".join(classes) + " |", "|---" * (len(classes) + 6) + "|"]
        for r in rows:
            pc = r["conditional_fidelity_per_class"]
            lines.append(f"| {r['guidance_scale']:g} | {_fmt(r['fid'])} | {_fmt(r['precision'])} | "
                         f"{_fmt(r['recall'])} | {_fmt(r['conditional_fidelity'])} | {_fmt(r['anatomy_share'])} | "
                         + " | ".join(_fmt(pc[c]["share"]) for c in classes) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------ CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=DEFAULT_DATA, help="training data with a train and a test split ('': phantom)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--budgets", type=float, nargs="+", default=[5.0, 10.0, 20.0, 30.0], help="training minutes")
    p.add_argument("--recipes", nargs="+", default=["old", "new"], choices=sorted(RECIPES))
    p.add_argument("--per-class", type=int, default=100, help="generated images per class for every score")
    p.add_argument("--out", type=Path, default=Path("runs/time_to_quality"))
    p.add_argument("--device", default=None, help="training and sampling device (default: the bundle's; cuda if any)")
    p.add_argument("--seed", type=int, default=12345, help="sampling seed (the same for every run)")
    p.add_argument("--override", action="append", default=[], type=parse_override, metavar="KEY=VALUE",
                   help="extra bundle override for every run, after the recipe's (repeat)")
    p.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=True, help="step sweep of the best run")
    p.add_argument("--floors", action=argparse.BooleanOptionalAction, default=True,
                   help="score real training images and each run's autoencoder reconstructions of them")
    p.add_argument("--sweep-runs", nargs="+", default=None, metavar="RUN",
                   help="sweep these runs (e.g. new_30min) instead of the one with the lowest FID")
    p.add_argument("--sweep-steps", type=int, nargs="+", default=[5, 10, 20, 50, 150])
    p.add_argument("--sweep-samplers", type=parse_sampler, nargs="+", default=None, metavar="SAMPLER[:ETA]",
                   help="sweep only these samplers (e.g. ddim:0 ddim:1; default: every one that fits the model)")
    p.add_argument("--guidance", type=float, nargs="+", default=None, metavar="W",
                   help="score the best run (or each of --guidance-runs) again at these guidance scales, with its "
                        "own sampler and steps: FID, conditional fidelity per class, anatomy share")
    p.add_argument("--guidance-runs", nargs="+", default=None, metavar="RUN",
                   help="the runs of the guidance sweep (default: the one with the lowest FID)")
    p.add_argument("--guidance-sampler", type=parse_sampler_setting, default=None, metavar="SAMPLER:STEPS[:ETA]",
                   help="the guidance sweep samples with this setting (e.g. ddim:50:1) instead of each run's own, "
                        "to separate a run's objective from its sampler")
    p.add_argument("--precision", default="fp32", help="sampling precision")
    p.add_argument("--batch", type=int, default=50, help="sampling batch size")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--classifier", default="monai_classifier", help="network of the conditional-fidelity classifier")
    p.add_argument("--classifier-steps", type=int, default=None, help="default: 8 epochs of 64-image steps")
    p.add_argument("--phantom-count", type=int, default=512, help="phantom only: images of each real set")
    a = p.parse_args(argv)
    a.out = a.out.resolve()  # the bundle runs from the repository root
    if a.data and Path(a.data).exists():
        a.data = str(Path(a.data).resolve())
    a.eval_device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return a


def main(argv: Sequence[str] | None = None, extractor=None) -> dict[str, Any]:
    """Run (or continue) the study; ``extractor`` replaces the Inception features (tests)."""
    return run_study(parse_args(argv), extractor)


if __name__ == "__main__":
    main()
