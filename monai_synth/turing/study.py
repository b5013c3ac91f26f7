"""A reader study on disk: creating it from image folders, and loading it back.

Layout of ``STUDY_DIR`` (written as a whole: built in a hidden sibling folder, then renamed)::

    study.json      format and version, mode, models, counts, readers (ids and names): nothing secret
    key.json        the answer key (which image is real) and each reader's order     (mode 0600)
    access.json     the server secret, the admin token and one token per reader      (mode 0600)
    answers.sqlite  the answers (:mod:`monai_synth.turing.store`)
    images/<id>.png the images, under random ids (:mod:`monai_synth.turing.images`)

Modes: ``real-fake`` (one image per page: real or synthetic, optionally with a 1-5 Likert realism score)
and ``2afc`` (two images per page, one real and one synthetic: which one is real?).

Every reader sees every trial, in their own order. The order is *balanced*: within each source (real,
and each model) the trials are shuffled, and the sources are interleaved so that every stretch of the
sequence holds them in about their overall proportions (a reader who stops early has still seen a fair
mix). In 2AFC mode, half of a reader's pairs show the real image on the left. Selection and orders are
seeded (``seed``, and the reader's index); ids and tokens are random and unguessable.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from monai_synth.data.errors import DataError
from monai_synth.io.atomic import atomic_open

from .images import encode_png, list_images, parse_window, read_native, square_resize, to_display
from .store import AnswerStore

__all__ = ["FORMAT", "MODES", "VERSION", "Study", "balanced_order", "create_study", "load_study"]

FORMAT = "monai-synth-turing-study"
VERSION = 1
MODES = ("real-fake", "2afc")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass
class Study:
    """A loaded study folder.

    Attributes:
        root: the folder.
        info: ``study.json`` (public description).
        key: ``key.json`` (answer key and orders; never served).
        access: ``access.json`` (secret, admin token, reader tokens; never served).
    """

    root: Path
    info: dict[str, Any]
    key: dict[str, Any]
    access: dict[str, Any]

    @property
    def mode(self) -> str:
        """``real-fake`` or ``2afc``."""
        return self.info["mode"]

    @property
    def likert(self) -> bool:
        """Whether real-fake pages also ask a 1-5 realism score."""
        return bool(self.info.get("likert"))

    @property
    def reader_ids(self) -> list[str]:
        """Reader ids in creation order."""
        return [reader["id"] for reader in self.info["readers"]]

    def reader_name(self, reader_id: str) -> str:
        """The display name of a reader."""
        return next(r["name"] for r in self.info["readers"] if r["id"] == reader_id)

    def order(self, reader_id: str) -> list[dict[str, Any]]:
        """A reader's trials in order: ``[{"trial": id, "images": [image ids, left to right]}, ...]``."""
        return self.key["orders"][reader_id]

    def image_path(self, image_id: str) -> Path:
        """The PNG file of an image id (ids are checked against the key by the caller)."""
        return self.root / "images" / f"{image_id}.png"


def balanced_order(groups: dict[str, list[Any]], rng: np.random.Generator) -> list[Any]:
    """Shuffle each group, then interleave the groups in proportion (a stratified random order).

    The item of rank ``i`` in a group of ``n`` gets the key ``(i + u) / n`` with ``u ~ U(0, 1)``; sorting by
    key spreads every group evenly over the sequence, at random.
    """
    keyed = []
    for name in sorted(groups):
        items = list(groups[name])
        for rank, index in enumerate(rng.permutation(len(items))):
            keyed.append(((rank + rng.random()) / len(items), items[index]))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]


def _check_name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise DataError(f"{what} {name!r}: use letters, digits, '_', '.', '-' (at most 64, not starting with a symbol)")
    return name


def _pick(folder: str, count: int, rng: np.random.Generator, option: str) -> list[dict[str, Any]]:
    """``count`` entries of a folder, chosen at random (seeded)."""
    if count < 1:
        raise DataError(f"{option} must be at least 1, got {count}")
    entries = list_images(folder)
    if len(entries) < count:
        raise DataError(f"fewer images than asked: {len(entries)} found, {count} asked ({option})", folder)
    return [entries[i] for i in sorted(rng.choice(len(entries), size=count, replace=False))]


def _render(selected: list[tuple[str, dict[str, Any]]], window: str | tuple[float, float], size: int
            ) -> list[tuple[str, dict[str, Any], bytes]]:
    """Read and encode every selected image the same way: (truth, entry, png bytes)."""
    shown = []
    for truth, entry in selected:
        arr, meta = read_native(entry)
        shown.append((truth, entry, to_display(arr, meta, window, str(entry["image"]))))
    rgb = any(pixels.ndim == 3 for _, _, pixels in shown)
    return [(truth, entry, encode_png(square_resize(pixels, size, rgb))) for truth, entry, pixels in shown]


def _source_record(truth: str, entry: dict[str, Any]) -> dict[str, Any]:
    record = {"truth": truth, "file": str(entry["image"])}
    record.update({key: entry[key] for key in ("frame", "index", "split", "axis") if entry.get(key) is not None})
    return record


def _trials(mode: str, images: dict[str, dict[str, Any]], rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """Trials from image ids: one image each (real-fake), or one real and one synthetic image (2afc)."""
    ids = sorted(images, key=lambda i: (images[i]["truth"] != "real", images[i]["truth"], images[i]["file"]))
    if mode == "real-fake":
        return {secrets.token_hex(8): {"model": None if images[i]["truth"] == "real" else images[i]["truth"],
                                       "images": [i]} for i in ids}
    reals = [i for i in ids if images[i]["truth"] == "real"]
    fakes = [i for i in ids if images[i]["truth"] != "real"]
    reals = [reals[j] for j in rng.permutation(len(reals))]
    return {secrets.token_hex(8): {"model": images[fake]["truth"], "images": [real, fake], "real_image": real}
            for real, fake in zip(reals, fakes)}


def _reader_order(mode: str, trials: dict[str, dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for trial_id, trial in trials.items():
        groups.setdefault(trial["model"] or "real", []).append(trial_id)
    order = balanced_order(groups, rng)
    if mode == "real-fake":
        return [{"trial": t, "images": list(trials[t]["images"])} for t in order]
    left_real = np.zeros(len(order), dtype=bool)
    left_real[rng.permutation(len(order))[: (len(order) + int(rng.integers(2))) // 2]] = True
    out = []
    for t, real_left in zip(order, left_real):
        real, fake = trials[t]["images"]
        out.append({"trial": t, "images": [real, fake] if real_left else [fake, real]})
    return out


def _write_json(path: Path, data: Any, private: bool = False) -> None:
    with atomic_open(path) as handle:
        handle.write((json.dumps(data, indent=1) + "\n").encode("utf-8"))
    if private:
        os.chmod(path, 0o600)


def _selection(real: str, fakes: dict[str, str], mode: str, n_real: int, n_fake: dict[str, int],
               rng: np.random.Generator) -> list[tuple[str, dict[str, Any]]]:
    picked = []
    for name, folder in fakes.items():
        picked += [(name, e) for e in _pick(folder, n_fake[name], rng, f"--n-fake for {name}")]
    real_count = sum(n_fake.values()) if mode == "2afc" else n_real
    option = "2afc needs one real image per pair" if mode == "2afc" else "--n-real"
    return [("real", e) for e in _pick(real, real_count, rng, option)] + picked


def _check_request(study_dir: Path, fakes: dict[str, str], mode: str, likert: bool, readers: list[str],
                   size: int) -> None:
    if mode not in MODES:
        raise DataError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if likert and mode != "real-fake":
        raise DataError("--likert applies to the real-fake mode only")
    if not fakes:
        raise DataError("give at least one synthetic folder with --fake NAME=DIR")
    for name in fakes:
        _check_name(name, "model name")
    if not readers or len(set(readers)) != len(readers):
        raise DataError(f"readers must be at least one, with distinct names, got {readers}")
    for name in readers:
        _check_name(name, "reader name")
    if not 16 <= size <= 2048:
        raise DataError(f"--size must be between 16 and 2048 pixels, got {size}")
    if study_dir.exists() and (not study_dir.is_dir() or any(study_dir.iterdir())):
        raise DataError("already exists and is not an empty folder; choose a new study folder", study_dir)


def create_study(study_dir: str | os.PathLike, real: str | os.PathLike, fakes: dict[str, str | os.PathLike], *,
                 mode: str = "real-fake", likert: bool = False, n_real: int = 20,
                 n_fake: int | dict[str, int] = 20, readers: list[str] | None = None, seed: int = 0,
                 size: int = 256, window: str = "auto") -> Study:
    """Create a study folder (see the module docstring).

    Args:
        study_dir: the new folder (must not exist, or be empty).
        real: folder (or datalist/``.npz``) of real images.
        fakes: model name -> folder of that model's synthetic images.
        mode: ``real-fake`` or ``2afc``.
        likert: real-fake only: also ask a 1-5 realism score.
        n_real: real images (real-fake mode); in 2AFC mode one real image per pair is drawn instead.
        n_fake: synthetic images per model (one number, or per model name).
        readers: reader names (default ``["reader-1", "reader-2"]``).
        seed: seed of the image selection, the pairing and the orders.
        size: side of the square images shown, in pixels.
        window: DICOM display window (see :func:`monai_synth.turing.images.parse_window`).

    Returns:
        The loaded study.

    Raises:
        DataError: bad options, empty or missing folders, unreadable images, fewer images than asked,
            an existing non-empty ``study_dir``.
    """
    root = Path(study_dir)
    readers = list(readers or ["reader-1", "reader-2"])
    fakes = {str(name): str(folder) for name, folder in fakes.items()}
    _check_request(root, fakes, mode, likert, readers, size)
    counts = n_fake if isinstance(n_fake, dict) else {name: int(n_fake) for name in fakes}
    unknown = sorted(set(counts) - set(fakes))
    if unknown:
        raise DataError(f"--n-fake names unknown model(s) {unknown}; models are {sorted(fakes)}")
    counts = {name: int(counts.get(name, 20)) for name in fakes}
    parsed_window = parse_window(window)
    rng = np.random.default_rng(seed)
    rendered = _render(_selection(str(real), fakes, mode, n_real, counts, rng), parsed_window, size)
    staging = root.parent / f".{root.name}.partial-{secrets.token_hex(4)}"
    try:
        images = _write_images(staging, rendered)
        trials = _trials(mode, images, rng)
        ids = [f"r{i + 1}" for i in range(len(readers))]
        orders = {rid: _reader_order(mode, trials, np.random.default_rng([seed, i])) for i, rid in enumerate(ids)}
        _write_json(staging / "key.json", {"images": images, "trials": trials, "orders": orders}, private=True)
        _write_json(staging / "access.json", {"secret": secrets.token_hex(32), "admin_token": secrets.token_urlsafe(24),
                                              "reader_tokens": {rid: secrets.token_urlsafe(24) for rid in ids}},
                    private=True)
        AnswerStore(staging / "answers.sqlite", create=True)
        real_count = sum(1 for image in images.values() if image["truth"] == "real")
        info = {"format": FORMAT, "version": VERSION, "mode": mode, "likert": bool(likert), "seed": int(seed),
                "size": int(size), "window": window, "created_at": datetime.now(timezone.utc).isoformat(),
                "models": sorted(fakes), "counts": {"real": real_count, **counts},
                "readers": [{"id": rid, "name": name} for rid, name in zip(ids, readers)],
                "trials_per_reader": len(trials)}
        _write_json(staging / "study.json", info)
        if root.exists():
            root.rmdir()
        os.rename(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_study(root)


def _write_images(staging: Path, rendered: list[tuple[str, dict[str, Any], bytes]]) -> dict[str, dict[str, Any]]:
    (staging / "images").mkdir(parents=True)
    images = {}
    for truth, entry, data in rendered:
        image_id = secrets.token_hex(16)
        with atomic_open(staging / "images" / f"{image_id}.png") as handle:
            handle.write(data)
        images[image_id] = _source_record(truth, entry)
    return images


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataError(f"incomplete study folder: {path.name} is missing", path.parent)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise DataError(f"cannot read ({err})", path) from None


def load_study(study_dir: str | os.PathLike) -> Study:
    """Load a study folder made by :func:`create_study`.

    Raises:
        DataError: not a study folder, an incomplete one, or one written by another format version.
    """
    root = Path(study_dir)
    if not root.is_dir():
        raise DataError("no such study folder", root)
    if not (root / "study.json").is_file():
        raise DataError("not a turing study folder (no study.json); make one with `monai-synth turing create`", root)
    info = _read_json(root / "study.json")
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise DataError(f"not a turing study (format {info.get('format') if isinstance(info, dict) else None!r})",
                        root / "study.json")
    if info.get("version") != VERSION:
        raise DataError(f"study format version {info.get('version')!r} is not supported: this monai-synth reads "
                        f"version {VERSION}; use the monai-synth version that created it", root / "study.json")
    return Study(root, info, _read_json(root / "key.json"), _read_json(root / "access.json"))
