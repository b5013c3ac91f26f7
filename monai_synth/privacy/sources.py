"""What the audit reads: the synthetic source (a run folder, an exported bundle or a folder of images), the
training and hold-out sets, and the pixel grid they are compared on.

- A Medfusion or StyleGAN2-ADA **run folder** or **exported bundle**: the audit samples its synthetic images
  from the model (:mod:`monai_synth.privacy.sampling`); a Medfusion model also takes the membership attack. A
  Medfusion run folder records its dataset, split, image size and intensity scaling in ``run_record.json``, so
  the training set (and the hold-out set: the same source, split ``test``) need not be given.
- Any **image source** the data layer reads (a folder of PNG/DICOM/NIfTI, a datalist, an ``.npz``): those are
  the synthetic images.

The grid: ``image_size`` and ``channels`` are the model's (run or bundle) or given; for a folder of images
without a model, those of the first training image. Real images are read and scaled as training read them
(:func:`monai_synth.engines.image_tensors.load_image_tensors`: the intensity mode, the window, the resize).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_synth.data import ReadImage2D, build_datalist
from monai_synth.data.errors import DataError
from monai_synth.engines.image_tensors import load_image_tensors
from monai_synth.export.run_folder import detect_run_kind
from monai_synth.io.model_bundle import is_exported_bundle, read_bundle_settings
from monai_synth.networks.stylegan2_checkpoint import read_stylegan2_checkpoint

__all__ = ["SourceInfo", "RealSpec", "Grid", "describe_source", "real_spec", "resolve_grid", "load_real_set"]

MODEL_KINDS = ("medfusion", "stylegan2_ada")


@dataclass
class SourceInfo:
    """A synthetic source or a model.

    Attributes:
        kind: ``"images"``, ``"medfusion"`` or ``"stylegan2_ada"``.
        path: the path given.
        bundle: whether it is an exported bundle.
        settings: what the run or bundle recorded (dataset, split, image size, channels, intensity...).
    """

    kind: str
    path: Path
    bundle: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def is_model(self) -> bool:
        return self.kind in MODEL_KINDS


@dataclass
class RealSpec:
    """A set of real images: ``dataset`` (``None``: the embedded phantom), its split and phantom settings."""

    dataset: str | None
    split: str | None
    phantom_count: int = 512
    seed: int = 0

    def describe(self) -> str:
        where = self.dataset if self.dataset else f"phantom ({self.phantom_count} images, seed {self.seed})"
        return f"{where} [split {self.split}]"


@dataclass
class Grid:
    """Size, channels and intensity scaling the sets are compared in."""

    image_size: int
    channels: int
    intensity: str = "auto"
    window: Any = None


def _run_record_settings(folder: Path) -> dict[str, Any]:
    path = folder / "run_record.json"
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("settings") or {})
    except (json.JSONDecodeError, AttributeError) as err:
        raise DataError(f"unreadable run record ({err})", path) from err


def _model_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """Grid settings of a bundle's ``model_settings`` or a StyleGAN2 checkpoint (size, channels, intensity)."""
    generator = stored.get("generator_config") or {}
    intensity = stored.get("intensity") if isinstance(stored.get("intensity"), dict) else {}
    window = intensity.get("window", stored.get("window"))
    return {"image_size": stored.get("image_size", generator.get("image_size")),
            "channels": stored.get("channels", generator.get("image_channels")),
            "intensity": intensity.get("mode"), "window": window}


def describe_source(path: str | os.PathLike, role: str = "synthetic source") -> SourceInfo:
    """What ``path`` holds: a Medfusion/StyleGAN2-ADA run folder or exported bundle, or images.

    Raises:
        DataError: the path does not exist, or holds a model the audit cannot sample (Med-cDiff).
    """
    folder = Path(path).expanduser()
    if not str(path) or not folder.exists():
        raise DataError(f"{role}: no such file or folder", folder)
    if is_exported_bundle(folder):
        settings = read_bundle_settings(folder)
        kind = settings.get("kind")
        if kind not in MODEL_KINDS:
            raise DataError(f"{role}: the bundle holds a {kind} model; the audit samples Medfusion and StyleGAN2-ADA "
                            "models (give a folder of the images it made instead)", folder)
        return SourceInfo(kind, folder, True, _model_settings(settings))
    if folder.is_dir():
        try:
            kind = detect_run_kind(folder)
        except FileNotFoundError:
            kind = "images"
        if kind == "med_cdiff":
            raise DataError(f"{role}: a Med-cDiff run restores images rather than generating them; give a folder "
                            "of the images it made instead", folder)
        if kind == "medfusion":
            return SourceInfo(kind, folder, False, _run_record_settings(folder))
        if kind == "stylegan2_ada":
            _, state = read_stylegan2_checkpoint(folder / "checkpoints")
            return SourceInfo(kind, folder, False, _model_settings(state))
    return SourceInfo("images", folder)


def real_spec(given: str | None, split: str | None, model: SourceInfo | None, role: str,
              phantom_count: int | None = None) -> RealSpec:
    """The training or hold-out set: ``given`` (``""``: the phantom) or, when ``None``, the model's record.

    ``phantom_count`` (phantom only): images of the phantom set; ``None``: the run's record, else 512.

    Raises:
        DataError: nothing given and no run record to take it from.
    """
    recorded = model.settings if model is not None else {}
    phantom_count = int(phantom_count or recorded.get("phantom_count") or 512)
    seed = int(recorded.get("seed") or 0)
    if given is not None:
        return RealSpec(os.fspath(given) or None, split, phantom_count, seed)
    if "dataset_dir" in recorded:
        return RealSpec(recorded.get("dataset_dir") or None, split, phantom_count, seed)
    where = f" ({model.path} records no dataset)" if model is not None else ""
    option = "train" if role == "training" else "holdout"
    raise DataError(f"give the {role} images ({option}, --{option}: a folder, datalist, .npz, DICOM or NIfTI; '' for "
                    f"the phantom){where}")


def _first_image_shape(spec: RealSpec) -> tuple[int, int, int]:
    """``(C, H, W)`` of the first image of a real set, as the data layer reads it."""
    entries = build_datalist(spec.dataset, split=spec.split, phantom_count=1, phantom_size=64, seed=spec.seed)
    image = ReadImage2D()(entries[0])
    return tuple(int(v) for v in image.shape)  # type: ignore[return-value]


def resolve_grid(image_size: int | None, channels: int | None, intensity: str | None, window: Any,
                 model: SourceInfo | None, train: RealSpec) -> Grid:
    """The comparison grid: explicit values, else the model's, else the first training image's.

    Raises:
        DataError: an explicit size or channel count other than the model's, or training images that are not
            square when no size is given.
    """
    recorded = model.settings if model is not None else {}
    for key, value in (("image_size", image_size), ("channels", channels)):
        if value is not None and recorded.get(key) is not None and int(value) != int(recorded[key]):
            raise DataError(f"{key} {value} differs from the model's {recorded[key]}: the model only makes and "
                            f"scores images of its own size; leave {key} unset", model.path)
    size = image_size if image_size is not None else recorded.get("image_size")
    chans = channels if channels is not None else recorded.get("channels")
    if size is None or chans is None:
        c, h, w = _first_image_shape(train)
        if size is None and h != w:
            raise DataError(f"training images are {h} x {w}, not square: give image_size (--image-size) to compare "
                            "at one size",
                            train.dataset)
        size = h if size is None else size
        chans = (1 if c == 1 else 3) if chans is None else chans
    return Grid(int(size), int(chans), intensity or recorded.get("intensity") or "auto",
                window if window is not None else recorded.get("window"))


def load_real_set(spec: RealSpec, grid: Grid, role: str):
    """Every image of a real set, read and scaled as training read it (an ``ImageTensorSet``).

    Raises:
        DataError: an unusable source, named with its role.
    """
    try:
        return load_image_tensors(spec.dataset, grid.image_size, grid.channels, grid.intensity, grid.window,
                                  spec.split, spec.phantom_count, spec.seed)
    except DataError as err:
        raise DataError(f"{role} images: {err.problem}", err.path) from err
    except ValueError as err:
        raise DataError(f"{role} images: {err}", spec.dataset) from err
