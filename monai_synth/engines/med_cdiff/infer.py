"""Med-cDiff inference: restore a folder of images, a NIfTI volume or a DICOM series with a trained model.

Every input image is read in native units (HU for CT), normalised to [-1, 1] with the intensity settings
the model was trained with (recorded in ``final.pt``), restored at its own pixel grid (patch-wise at the
model's training size, see ``native_restore``; sr input given with ``factor`` is first upsampled by it, so
the output is never below the input's resolution), mapped back to native units through the window its
normalisation used, with the source's values carried through wherever they lie outside that window (so HU
outside the model's window stay true), and written:

- a DICOM series (default for DICOM input) stays in its study as a new, DERIVED series (new series UID,
  source geometry, source images referenced) in a folder named by its own SeriesInstanceUID, whose
  SeriesDescription and DerivationDescription say what was done, by which model and checkpoint (SHA-256),
  and which intensity window the model used;
- a NIfTI volume (default for NIfTI input; also for a DICOM series with ``format="nifti"``) keeps the
  input's orientation and field of view;
- PNG (default otherwise): one file per image, the window mapped to the full grey range.

``simulate=True`` degrades full-quality input first with the fixed, seeded degradation of evaluation (and
writes the degraded images too, under ``degraded``); otherwise the input is taken as already degraded (sr:
upsampled by ``factor`` to the model size; inpaint: missing pixels given by a ``mask`` image).
``manifest.jsonl`` has a line per written file (synthetic, model, checkpoint hash, seed, derived_from).
The output folder may not be, or lie inside, the input folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth.data import BadInputReport, DataError, ReadImage2D, build_datalist, detect_source_kind
from monai_synth.engines.image_tensors import resize_square
from monai_synth.engines.native_restore import carry_outside_window, resample_native, sliding_restore, window_note
from monai_synth.io import (
    FORMATS,
    ManifestWriter,
    SyntheticStudy,
    affine_from_spacing,
    save_generated,
    write_dicom_series,
    write_nifti,
)
from monai_synth.io.dicom import save_dataset
from monai_synth.io.output_guard import check_output_dir as guard_output_dir
from monai_synth.transforms import make_intensity_transform, unit_to_window
from monai_synth.transforms.degradation import factor_name, upsample

logger = logging.getLogger("monai_synth")

__all__ = [
    "TASK_WORDS",
    "InputImages",
    "as_flag",
    "check_output_dir",
    "make_condition",
    "read_inputs",
    "restore_to_folder",
]

TASK_WORDS = {"sr": "super-resolved", "denoise": "denoised", "inpaint": "inpainted"}
DEFAULT_FORMATS = {"dicom": "dicom", "nifti": "nifti"}


def as_flag(value: bool | str | int | None) -> bool:
    """A yes/no setting from a config or the command line, where ``--simulate false`` arrives as the string
    ``"false"`` (``python -m monai.bundle`` parses only Python literals such as ``False``).

    Raises:
        ValueError: for a string that is not one of true/false/yes/no/on/off/1/0.
    """
    if not isinstance(value, str):
        return bool(value)
    text = value.strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", "", "none", "null"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


# ----------------------------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------------------------


@dataclass
class InputImages:
    """Input images in [-1, 1] at their own size, and where they came from.

    Attributes:
        kind: source kind (``dicom``, ``nifti``, ``folder``, ``raster``, ``datalist``, ``npz``).
        root: the input path.
        entries: datalist entries, one per image (DICOM and NIfTI: in slice order).
        images: ``(C, H, W)`` tensors in [-1, 1].
        windows: ``(center, width)`` per image: the native interval mapped onto [-1, 1].
        metas: the loader's meta dict per image.
        natives: ``(C, H, W)`` float64 tensors in native units (HU for CT), before normalisation.
        skipped: the bad inputs left out (``skip_bad``), as ``(path, reason)`` entries.
    """

    kind: str
    root: Path
    entries: list[dict]
    images: list[torch.Tensor] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    metas: list[dict] = field(default_factory=list)
    natives: list[torch.Tensor] = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def groups(self) -> list[list[int]]:
        """Indices of the images of each volume (a DICOM series, a NIfTI file) or of each single image."""
        if self.kind not in ("dicom", "nifti"):
            return [[i] for i in range(len(self.entries))]
        keys: dict[str, list[int]] = {}
        for i, entry in enumerate(self.entries):
            keys.setdefault(str(entry.get("series_uid") or entry["image"]), []).append(i)
        return list(keys.values())


def check_output_dir(input_path: str | os.PathLike, output_dir: str | os.PathLike) -> None:
    """Refuse an output folder that is the input folder (a file's folder) or lies inside it.

    Raises:
        ValueError: naming both paths.
    """
    source = Path(os.path.realpath(input_path))
    folder = source if source.is_dir() else source.parent
    out = Path(os.path.realpath(output_dir))
    if out == folder or folder in out.parents:
        raise ValueError(
            f"refusing to write into the input folder: output_dir {os.fspath(output_dir)!r} is or lies inside "
            f"{os.fspath(folder)!r}; choose another output_dir (inputs are never modified)"
        )


def _normalise(image: torch.Tensor, norm: Any, channels: int) -> tuple[torch.Tensor, tuple[float, float]]:
    """[-1, 1] image through the training normalisation ``norm``, and the window it used."""
    out = norm({"image": image})["image"]
    window = (float(out.meta["window_center"]), float(out.meta["window_width"]))
    unit = out.as_tensor().float()
    if channels == 1 and unit.shape[0] != 1:
        unit = unit.mean(0, keepdim=True)
    return unit, window


def read_inputs(
    input_path: str | os.PathLike,
    intensity: Mapping[str, Any],
    channels: int = 1,
    axis: int = 2,
    modality: str | None = None,
    series_description: str | None = None,
    skip_bad: bool = False,
) -> InputImages:
    """Read and normalise every image of the input (all slices of volumes, empty ones included).

    With ``skip_bad``, bad inputs (unreadable files, objects without pixel data, NaN/Inf values...) are left out
    and listed in ``InputImages.skipped`` instead of stopping the run.

    Raises:
        DataError: unreadable or unusable input (every problem of a folder at once), unless ``skip_bad``.
    """
    kind = detect_source_kind(input_path)
    if kind == "phantom":
        raise ValueError("input must name a folder of images, a NIfTI volume or a DICOM series folder")
    report = BadInputReport()
    entries = build_datalist(input_path, split=None, axis=axis, skip_empty=False, modality=modality,
                             series_description=series_description, skip_bad=skip_bad, report=report)
    found = InputImages(kind, Path(os.path.abspath(input_path)), [], skipped=report)
    reader = ReadImage2D()
    norm = make_intensity_transform(mode=intensity.get("mode") or "auto", window=intensity.get("window"))
    for entry in entries:
        try:
            image = reader(entry)
        except DataError as error:
            if not skip_bad:
                raise
            report.add(entry["image"], error.problem)
            continue
        found.entries.append(entry)
        unit, window = _normalise(image, norm, channels)
        found.images.append(unit)
        found.windows.append(window)
        found.metas.append(dict(image.meta))
        native = image.as_tensor().double()
        found.natives.append(native.mean(0, keepdim=True) if channels == 1 and native.shape[0] != 1 else native)
    if not found.entries:
        raise DataError("no usable image left after skipping bad inputs", input_path)
    logger.info("%s: %d images from a %s source", input_path, len(found.entries), kind)
    report.log(logger)
    return found


# ----------------------------------------------------------------------------------------------
# Conditions
# ----------------------------------------------------------------------------------------------


def _resize(image: torch.Tensor, size: int, mode: str = "bicubic") -> torch.Tensor:
    """(C, H, W) -> (C, size, size): antialiased shrink, ``mode`` interpolation to enlarge."""
    if image.shape[-2:] == (size, size) or size < max(image.shape[-2:]):
        return resize_square(image, size)
    return upsample(image, size, mode).clamp(-1.0, 1.0)


def _read_mask(mask: str | os.PathLike, size: int | Sequence[int]) -> torch.Tensor:
    """Inpainting mask ``(1, size, size)`` in {0, 1} (1 = missing: non-zero pixels of the mask image)."""
    values = ReadImage2D(grayscale=True)(str(mask)).as_tensor()[None].float()
    shape = (size, size) if isinstance(size, int) else tuple(size)
    resized = torch.nn.functional.interpolate((values != 0).float(), size=shape, mode="nearest")
    return resized[0]


def _setting(degradation: Any, name: str | None, factor: float | None) -> dict[str, Any]:
    """The evaluation setting used to simulate: by name, by sr factor, or the first one."""
    settings = degradation.settings()
    if factor is not None and degradation.task == "sr":
        return {"name": factor_name(factor), "factor": float(factor)}
    if name is None:
        return settings[0]
    for setting in settings:
        if setting["name"] == name:
            return setting
    raise ValueError(f"unknown setting {name!r}; the model's settings are {[s['name'] for s in settings]}")


def make_condition(
    images: Sequence[torch.Tensor],
    restorer: Any,
    seeds: Sequence[int],
    *,
    simulate: bool,
    setting: Mapping[str, Any] | None = None,
    factor: float | None = None,
    mask: str | os.PathLike | None = None,
) -> torch.Tensor:
    """The restorer's input ``(N, C_cond, S, S)`` for images in [-1, 1] at their own size.

    Args:
        images: ``(C, H, W)`` images.
        restorer: the restorer (``task``, ``degradation``, ``image_size``).
        seeds: one seed per image (simulated noise and masks).
        simulate: degrade the (clean) images with ``setting`` first.
        setting: the evaluation setting to simulate.
        factor: sr without simulation: the input is upsampled by this factor (then fitted to the model size).
        mask: inpaint without simulation: mask image (non-zero = missing), used for every image.
    """
    size, degradation = int(restorer.image_size), restorer.degradation
    mode = str(degradation.params.get("mode", "bicubic")) if hasattr(degradation, "params") else "bicubic"
    if simulate:
        clean = torch.stack([_resize(x, size, mode) for x in images])
        return degradation.fixed(clean, dict(setting or degradation.settings()[0]), list(seeds))
    if restorer.task == "sr" and factor is not None:
        images = [_resize(x, int(round(max(x.shape[-2:]) * float(factor))), mode) for x in images]
    batch = torch.stack([_resize(x, size, mode) for x in images])
    if restorer.task != "inpaint":
        return batch
    if mask is None:
        raise ValueError("inpainting an already degraded input needs mask= (an image, non-zero = missing)")
    missing = _read_mask(mask, size).expand(len(batch), 1, size, size)
    return torch.cat([batch * (1.0 - missing), missing], dim=1)


def native_conditions(
    images: Sequence[torch.Tensor],
    restorer: Any,
    seeds: Sequence[int],
    *,
    simulate: bool,
    setting: Mapping[str, Any] | None = None,
    factor: float | None = None,
    mask: str | os.PathLike | None = None,
) -> list[torch.Tensor]:
    """One condition ``(1, C_cond, H, W)`` per image at the image's own grid (sr ``factor``: upsampled by it).

    Same arguments as :func:`make_condition`; nothing is resized to the model size.
    """
    degradation = restorer.degradation
    mode = str(degradation.params.get("mode", "bicubic")) if hasattr(degradation, "params") else "bicubic"
    out = []
    for x, seed in zip(images, seeds):
        if simulate:
            out.append(degradation.fixed(x[None], dict(setting or degradation.settings()[0]), [int(seed)]))
            continue
        if restorer.task == "sr" and factor is not None:
            grid = tuple(int(round(n * float(factor))) for n in x.shape[-2:])
            x = upsample(x[None], grid, mode)[0].clamp(-1.0, 1.0)
        if restorer.task != "inpaint":
            out.append(x[None])
            continue
        if mask is None:
            raise ValueError("inpainting an already degraded input needs mask= (an image, non-zero = missing)")
        missing = _read_mask(mask, x.shape[-2:])[None]
        out.append(torch.cat([x[None] * (1.0 - missing), missing], dim=1))
    return out


def restore_native(restorer: Any, conditions: Sequence[torch.Tensor], seeds: Sequence[int], batch_size: int,
                   progress: bool) -> list[torch.Tensor]:
    """Restore each condition patch-wise at its own grid; ``(C, H, W)`` tensors in [-1, 1]."""
    from tqdm.auto import tqdm

    size, out = int(restorer.image_size), []
    for condition, seed in tqdm(list(zip(conditions, seeds)), desc=f"restoring ({restorer.task})", unit="image",
                                disable=not progress, leave=False):
        out.append(sliding_restore(restorer, condition, size, int(seed), batch_size)[0].cpu())
    return out


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------


@dataclass
class Provenance:
    """What made the outputs: written into DICOM descriptions and the manifest."""

    model: str
    description: str
    checkpoint_sha256: str
    task: str
    sampler: str | None
    steps: int | None
    simulate: bool
    setting: str | None

    def what(self, degraded: bool = False) -> str:
        """One sentence saying what was done."""
        if degraded:
            return f"Simulated degradation ({self.setting}) of the source for a Med-cDiff {self.task} demonstration."
        simulated = f" from a simulated degradation ({self.setting})" if self.simulate else ""
        return (f"{TASK_WORDS[self.task].capitalize()}{simulated} by {self.description}; "
                f"checkpoint sha256 {self.checkpoint_sha256}.")

    def series_description(self, degraded: bool = False) -> str:
        """A short SeriesDescription (``SYNTHETIC - `` is prefixed by the writer)."""
        if degraded:
            return f"Med-cDiff simulated {self.setting} input"
        return f"Med-cDiff {self.model} {TASK_WORDS[self.task]}"

    def record(self, seed: int, source: str | None, degraded: bool = False, **condition: Any) -> dict[str, Any]:
        """A manifest record."""
        return {
            "model": "degradation (simulated)" if degraded else f"med_cdiff_{self.model}",
            "checkpoint_sha256": None if degraded else self.checkpoint_sha256,
            "seed": seed,
            "condition": {
                "source": source, "task": self.task, "simulated": self.simulate, "setting": self.setting, **condition
            },
            "sampler": None if degraded else self.sampler,
            "steps": None if degraded else self.steps,
            "derived_from": source,
            "description": self.what(degraded),
        }


def _natives(images: Sequence[torch.Tensor], found: InputImages) -> list[np.ndarray]:
    """[-1, 1] images -> native units through each image's window, the source's values outside it: ``(C, H, W)``."""
    out = []
    for i, x in enumerate(images):
        restored = unit_to_window(x.double().clamp(-1, 1).numpy(), *found.windows[i]).astype(np.float64)
        if i < len(found.natives):
            source = resample_native(found.natives[i], x.shape[-2:]).numpy()
            restored = carry_outside_window(restored, source, found.windows[i])
        out.append(restored)
    return out


def _file_stem(path: str | os.PathLike) -> str:
    """File name without its suffix (``.nii.gz`` counts as one)."""
    name = Path(path).name
    return name[: -len(".nii.gz")] if name.endswith(".nii.gz") else Path(name).stem


def _relative_name(found: InputImages, index: int) -> str:
    """Output name of one image (no suffix): its path under the input folder, plus its slice or frame."""
    entry = found.entries[index]
    path = Path(str(entry["image"]))
    root = found.root if found.root.is_dir() else found.root.parent
    folder = path.parent.relative_to(root) if path.is_relative_to(root) else Path()
    name = _file_stem(path)
    if found.kind == "nifti":
        name += f"_slice{int(entry['frame']):04d}"
    elif entry.get("frame"):
        name += f"_frame{int(entry['frame'])}"
    if entry.get("index") is not None:
        name += f"_{entry.get('split') or 'train'}{int(entry['index'])}"
    return (folder / name).as_posix()


def _scaled_spacing(found: InputImages, index: int, shape: Sequence[int]) -> tuple[float, float] | None:
    """Pixel spacing of an image on an output grid ``shape`` (same field of view), or None when unknown."""
    spacing = found.metas[index].get("pixel_spacing")
    if not spacing:
        return None
    rows, cols = found.images[index].shape[-2:]
    return float(spacing[0]) * rows / shape[0], float(spacing[1]) * cols / shape[1]


def _patch_derivation(paths: Sequence[Path], text: str, sources: Sequence[str]) -> None:
    """Prefix each written file's DerivationDescription and ImageComments with ``text`` (atomic rewrite)."""
    import pydicom

    for path in paths:
        ds = pydicom.dcmread(path)
        ds.DerivationDescription = f"{text} {ds.get('DerivationDescription', '')}".strip()[:1024]
        ds.ImageComments = f"SYNTHETIC IMAGE, not acquired from a patient. {text}"[:10240]
        save_dataset(ds, path, inputs=sources)


def _write_dicom_series(found: InputImages, group: list[int], natives: list[np.ndarray], out: Path,
                        prov: Provenance, manifest: Any, seeds: Sequence[int], degraded: bool) -> list[Path]:
    """One derived DICOM series for the slices ``group`` of a source series, in ``out/<its SeriesInstanceUID>/``."""
    from pydicom.uid import generate_uid

    sources = [str(found.entries[i]["image"]) for i in group]
    windows = sorted({found.windows[i] for i in group})
    series_uid = generate_uid()
    paths = write_dicom_series(
        np.stack([natives[i][0] for i in group]), out / series_uid, window=windows[0] if len(windows) == 1 else None,
        derived_from=sources, description=prov.series_description(degraded), model=f"med_cdiff_{prov.model}",
        series_uid=series_uid,
    )
    _patch_derivation(paths, f"{prov.what(degraded)} {window_note(windows[0])}", sources)
    for path, i in zip(paths, group):
        manifest.write(path, prov.record(int(seeds[i]), sources[group.index(i)], degraded), format="dicom",
                       window=list(found.windows[i]))
    return paths


def _nifti_affine(found: InputImages, group: list[int], shape: Sequence[int]) -> tuple[np.ndarray, int]:
    """Affine of the output volume (same field of view on the output grid ``shape``) and the slicing axis."""
    import nibabel as nib

    entry = found.entries[group[0]]
    if found.kind == "nifti":
        axis = int(entry.get("axis", 2) if entry.get("axis") is not None else 2)
        image = nib.as_closest_canonical(nib.load(str(entry["image"])))
        affine = np.array(image.affine, dtype=np.float64)
        scale = found.images[group[0]].shape[-2] / shape[0]  # output grids keep the aspect: one factor
        for a in (a for a in range(3) if a != axis):
            affine[:3, 3] += affine[:3, a] * (scale - 1.0) / 2.0
            affine[:3, a] *= scale
        return affine, axis
    positions = [found.metas[i].get("image_position") for i in group[:2]]
    step = float(np.linalg.norm(np.subtract(*positions))) if len(group) > 1 and None not in positions else 1.0
    return affine_from_spacing(_scaled_spacing(found, group[0], shape), step or 1.0), 2


def _write_volume_nifti(found: InputImages, group: list[int], natives: list[np.ndarray], path: Path,
                        prov: Provenance, manifest: Any, seeds: Sequence[int], degraded: bool) -> list[Path]:
    """One NIfTI volume for the slices ``group``, in the input's orientation for NIfTI input."""
    planes = np.stack([natives[i][0] for i in group])
    affine, axis = _nifti_affine(found, group, planes.shape[-2:])
    if found.kind == "nifti":  # back from display orientation to the canonical volume
        planes = np.stack([p[::-1, ::-1].T for p in planes], axis=axis)
        planes = np.moveaxis(planes, -1, 0)  # write_nifti stores (S, H, W) as (H, W, S)
    else:
        planes = np.stack(list(planes))
    sources = sorted({str(found.entries[i]["image"]) for i in group})
    write_nifti(planes, path, affine=affine, inputs=sources)
    manifest.write(path, prov.record(int(seeds[group[0]]), sources[0], degraded, slices=len(group)), format="nifti")
    return [path]


def _write_images(found: InputImages, group: list[int], units: Sequence[torch.Tensor], out: Path, fmt: str,
                  prov: Provenance, manifest: Any, seeds: Sequence[int], degraded: bool, study: Any) -> list[Path]:
    """One file per image (PNG, 2D NIfTI or Secondary Capture DICOM) through ``save_generated``."""
    paths = []
    for i in group:
        meta, window = found.metas[i], found.windows[i]
        top = (meta.get("value_range") or (0, 255))[1]
        record = prov.record(int(seeds[i]), str(found.entries[i]["image"]), degraded)
        paths += save_generated(
            units[i][None], out, [_relative_name(found, i)], fmt=fmt, manifest=manifest, records=[record],
            window=window, bits=16 if top > 255 else 8, model=f"med_cdiff_{prov.model}", study=study,
            pixel_spacing=_scaled_spacing(found, i, units[i].shape[-2:]),
        )
    return paths


def write_outputs(found: InputImages, units: Sequence[torch.Tensor], out: Path, fmt: str, prov: Provenance,
                  manifest: Any, seeds: Sequence[int], degraded: bool = False) -> list[Path]:
    """Write every group of images (``(C, H, W)`` in [-1, 1]) in ``fmt``: DICOM series, NIfTI volumes, or files."""
    natives, study, paths = _natives(units, found), SyntheticStudy(), []
    volume = found.kind in ("dicom", "nifti")
    for number, group in enumerate(found.groups(), start=1):
        if fmt == "dicom" and found.kind == "dicom":
            paths += _write_dicom_series(found, group, natives, out, prov, manifest, seeds, degraded)
        elif fmt == "nifti" and volume:
            name = _file_stem(found.entries[group[0]]["image"]) if found.kind == "nifti" else f"series_{number:03d}"
            paths += _write_volume_nifti(found, group, natives, out / f"{name}.nii.gz", prov, manifest, seeds, degraded)
        else:
            paths += _write_images(found, group, units, out, fmt, prov, manifest, seeds, degraded, study)
    return paths


# ----------------------------------------------------------------------------------------------
# The whole inference
# ----------------------------------------------------------------------------------------------


def restore_to_folder(
    input: str,  # noqa: A002 - the bundle key users set
    output_dir: str,
    restorer: Any,
    format: str | None = None,  # noqa: A002 - the bundle key users set
    seed: int = 0,
    simulate: bool = False,
    setting: str | None = None,
    factor: float | None = None,
    mask: str | None = None,
    batch_size: int = 8,
    axis: int = 2,
    modality: str | None = None,
    series_description: str | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Restore every image of ``input`` into ``output_dir`` (see the module docstring).

    Args:
        input: folder of images, NIfTI file (or folder), or DICOM series folder.
        output_dir: output folder; must not be or lie inside the input's folder.
        restorer: the trained restorer (``load_restorer``: a run folder or an exported bundle, with its sampling
            settings), or any object with the same attributes.
        format: "png", "nifti" or "dicom"; default: dicom for DICOM input, nifti for NIfTI, png otherwise.
        seed: image ``i`` uses seed ``seed + i`` (simulated degradation and diffusion noise).
        simulate: degrade full-quality input first (and write the degraded images under ``degraded``).
        setting: name of the setting to simulate (e.g. "x4"); default the model's first.
        factor: sr: the factor to simulate, or (without simulation) by which the input is upsampled.
        mask: inpaint without simulation: mask image, non-zero = missing.
        batch_size: images per restoration batch.
        axis: NIfTI slicing axis.
        modality: DICOM: keep series of this modality.
        series_description: DICOM: keep series whose description contains this text.
        skip_bad: restore what is usable and list the bad inputs in ``output_dir/skipped_inputs.csv``
            (default: stop and name every problem).
        progress: show a progress bar over batches.

    Returns:
        The written paths (restored images, then the degraded ones when simulating).

    Raises:
        ValueError: output folder inside the input folder, bad format or setting.
        DataError: unreadable input.
    """
    check_output_dir(input, output_dir)
    guard_output_dir(output_dir, [input, mask])  # nor among acquired images
    simulate, progress = as_flag(simulate), as_flag(progress)
    found = read_inputs(input, restorer.intensity, restorer.channels, axis, modality, series_description,
                        as_flag(skip_bad))
    fmt = format or DEFAULT_FORMATS.get(found.kind, "png")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
    chosen = _setting(restorer.degradation, setting, factor) if simulate else None
    seeds = [int(seed) + i for i in range(len(found.images))]
    conditions = native_conditions(
        found.images, restorer, seeds, simulate=simulate, setting=chosen, factor=factor, mask=mask
    )
    restored = restore_native(restorer, conditions, seeds, batch_size, progress)
    diffusion = restorer.model == "diffusion"
    prov = Provenance(
        restorer.model, restorer.description, restorer.checkpoint_sha256, restorer.task,
        getattr(restorer, "sampler", None) if diffusion else None,
        getattr(restorer, "steps", None) if diffusion else None, simulate, chosen["name"] if chosen else None,
    )
    out = Path(output_dir)
    with ManifestWriter(out) as manifest:
        paths = write_outputs(found, restored, out, fmt, prov, manifest, seeds)
        if simulate:
            degraded = [restorer.degradation.image_part(c)[0].clamp(-1, 1) for c in conditions]
            paths += write_outputs(found, degraded, out / "degraded", fmt, prov, manifest, seeds, degraded=True)
    if found.skipped:
        found.skipped.write(out / "skipped_inputs.csv")
    logger.info("wrote %d files to %s", len(paths), out)
    return paths
