"""The restore application's work, with or without the App SDK: one selected series -> one derived series.

The selected series' files are restored by :func:`monai_synth.engines.med_cdiff.infer.restore_to_folder`
(the existing derived-series writer: native units, source geometry, DERIVED, derivation description with
the model hash) and then given deterministic UIDs (source series / instance UID, model hash, seed and
settings), so that a re-run writes the same instances. The result appears all at once as
``OUT/<derived SeriesInstanceUID>/`` (``IM0001.dcm``... and ``manifest.jsonl``); a failure leaves ``OUT``
as it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydicom

from monai_synth.data.dicom import DicomSeries, scan_dicom
from monai_synth.data.errors import DataError
from monai_synth.deploy.folders import stage_links, swap_in, temporary_sibling
from monai_synth.deploy.selection import matching_series, require_one
from monai_synth.deploy.series_check import check_complete_series
from monai_synth.deploy.stamp import stamp_files
from monai_synth.deploy.uids import derived_uid

logger = logging.getLogger("monai_synth.deploy")

__all__ = ["restore_selected_files", "restore_study_folder", "select_series", "series_header"]


def series_header(series: DicomSeries) -> dict[str, Any]:
    """Study and series attributes of a series (from its first file) for the selection rules."""
    ds = pydicom.dcmread(series.instances[0].path, stop_before_pixels=True)
    header = {e.keyword: e.value for e in ds if e.keyword and e.VR != "SQ"}
    return {k: (list(v) if isinstance(v, pydicom.multival.MultiValue) else v) for k, v in header.items()}


def select_series(input_dir: str | os.PathLike, rules: Mapping[str, Any]) -> DicomSeries:
    """The one series of ``input_dir`` chosen by ``rules`` (without the SDK).

    Raises:
        DataError: no DICOM series, none or several matching the rules.
    """
    series = scan_dicom(input_dir)
    _, hits = matching_series([series_header(s) for s in series], rules)
    require_one([str(s) for s in series], [str(series[i]) for i in hits], rules, input_dir)
    return series[hits[0]]


def _uid_settings(bundle: Any, seed: int) -> dict[str, Any]:
    """The settings a derived UID depends on."""
    return {"task": bundle.task, "model": bundle.settings.get("model"), "sampler": bundle.settings.get("sampler"),
            "seed": int(seed)}


def _set_derived_uids(series_uid: str, sha: str, seed: int, settings: dict[str, Any]) -> Any:
    """A function giving one derived dataset its deterministic series and instance UIDs."""

    def set_uids(ds: pydicom.Dataset) -> None:
        source = str(ds.SourceImageSequence[0].ReferencedSOPInstanceUID)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = derived_uid("instance", source, sha, seed, settings)

    return set_uids


def _rewrite_manifest(manifest: Path, target: Path, links: Mapping[str, str], prefix: str) -> None:
    """Copy the manifest to ``target`` with file names relative to the series folder and original sources."""
    lines = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["file"] = record["file"].removeprefix(prefix)
        text = json.dumps(record)
        for staged, original in links.items():
            text = text.replace(json.dumps(staged)[1:-1], json.dumps(original)[1:-1])
        lines.append(text)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run_writer(stage: Path, work: Path, bundle: Any, seed: int, batch_size: int) -> list[Path]:
    """The existing restoration writer on the staged series."""
    from monai_synth.engines.med_cdiff.infer import restore_to_folder  # lazy: no torch before SDK set-up

    return restore_to_folder(str(stage), str(work), bundle.restorer, format="dicom", seed=seed, batch_size=batch_size,
                             progress=False)


def restore_selected_files(files: Sequence[str | os.PathLike], bundle: Any, output_dir: str | os.PathLike, *,
                           seed: int = 0, device: str = "cpu", batch_size: int = 4,
                           source: str | os.PathLike | None = None) -> Path:
    """Restore the files of one selected series into ``output_dir/<derived series UID>/``.

    Args:
        files: the series' DICOM files (any order).
        bundle: a Med-cDiff :class:`~monai_synth.export.ExportedBundle`.
        output_dir: the application's output folder.
        seed: slice ``i`` uses seed ``seed + i``.
        device: torch device.
        batch_size: slices per restoration batch.
        source: the input folder, for messages.

    Returns:
        The derived series folder.

    Raises:
        DataError: mixed sizes, missing or unreadable slices, or files of several series.
    """
    out, where = Path(output_dir), source or (Path(files[0]).parent if files else "input")
    with tempfile.TemporaryDirectory(prefix="monai-synth-restore-") as temp:
        stage = Path(temp) / "input"
        stage.mkdir()
        links = stage_links(files, stage)
        found = scan_dicom(stage)
        if len(found) != 1:
            raise DataError(f"expected the files of one series, got {len(found)} series", where)
        check_complete_series(found[0], where)
        settings = _uid_settings(bundle, seed)
        series_uid = derived_uid("series", found[0].series_uid, bundle.model_sha256, seed, settings)
        work = Path(temp) / "output"
        paths = _run_writer(stage, work, bundle, seed, batch_size)
        stamp_files(paths, _set_derived_uids(series_uid, bundle.model_sha256, seed, settings))
        final = out / series_uid
        staging = temporary_sibling(final)
        try:
            for path in paths:
                shutil.move(str(path), staging / path.name)
            _rewrite_manifest(work / "manifest.jsonl", staging / "manifest.jsonl", links, f"{paths[0].parent.name}/")
            swap_in(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    logger.info("derived series %s: %d instances in %s", series_uid, len(paths), final)
    return final


def restore_study_folder(input_dir: str | os.PathLike, bundle: Any, output_dir: str | os.PathLike,
                         rules: Mapping[str, Any], **options: Any) -> Path:
    """Select the series of ``input_dir`` by ``rules`` and restore it (the app without the SDK)."""
    series = select_series(input_dir, rules)
    return restore_selected_files([i.path for i in series.instances], bundle, output_dir, source=input_dir, **options)
