"""The synthesize application's work: a request -> a synthetic study of Secondary Capture images.

Images come from ``ExportedBundle.generate(labels, seeds)`` and are written by the existing writer
(:func:`monai_synth.io.save_generated`: SyntheticData YES, Synthesizing Equipment, ``manifest.jsonl``), one
series per class in one study. Study, series and instance UIDs are derived from the request, the model
hash and the seeds, so the same request gives the same instances. The study appears all at once as
``OUT/<StudyInstanceUID>/``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pydicom

from monai_synth.data.errors import DataError
from monai_synth.deploy.folders import swap_in, temporary_sibling
from monai_synth.deploy.request import SynthesisRequest
from monai_synth.deploy.stamp import stamp_files
from monai_synth.deploy.uids import derived_uid
from monai_synth.io import ManifestWriter, SyntheticStudy, save_generated

logger = logging.getLogger("monai_synth.deploy")

__all__ = ["synthesize_study"]

_BATCH = 4


class _DerivedStudy(SyntheticStudy):
    """A :class:`SyntheticStudy` whose series UIDs are derived from the study UID and the series key."""

    def __init__(self, study_uid: str, model_sha256: str) -> None:
        super().__init__(study_uid=study_uid)
        self._sha = model_sha256

    def series_uid(self, key: Hashable) -> str:
        return self._series.setdefault(key, derived_uid("series", self.study_uid, self._sha, None, {"key": str(key)}))


def _records(bundle: Any, request: SynthesisRequest, start: int, stop: int) -> list[dict[str, Any]]:
    """Manifest records of images ``start:stop``."""
    names = bundle.settings.get("class_names") or []
    return [{"model": bundle.kind, "checkpoint_sha256": bundle.model_sha256, "seed": request.seeds[k],
             "condition": {"class_label": request.labels[k],
                           "class_name": names[request.labels[k]] if request.labels[k] < len(names) else None},
             "sampling": {**bundle.settings.get("sampler", {}), **request.sampling}}
            for k in range(start, stop)]


def _generate_into(bundle: Any, request: SynthesisRequest, folder: Path, study: SyntheticStudy) -> list[Path]:
    """Generate and write every image of the request into ``folder``."""
    paths: list[Path] = []
    window = bundle.settings.get("window")
    if request.modality == "CT" and window is None:
        raise DataError("modality CT needs a model trained with a CT window; this bundle has none", bundle.path)
    with ManifestWriter(folder) as manifest:
        for start in range(0, len(request.labels), _BATCH):
            stop = min(start + _BATCH, len(request.labels))
            images = bundle.generate(request.labels[start:stop], request.seeds[start:stop], **request.sampling)
            names = [f"class{request.labels[k]}/seed{request.seeds[k]:06d}" for k in range(start, stop)]
            paths += save_generated(images, folder, names, fmt="dicom", manifest=manifest,
                                    records=_records(bundle, request, start, stop), window=window,
                                    modality=request.modality, model=bundle.kind, study=study)
    return paths


def _instance_uids(study_uid: str, sha: str, request: SynthesisRequest, paths: list[Path]) -> Any:
    """A function giving each written image its deterministic SOP instance UID (by label and seed)."""
    keys = {str(p): (request.labels[k], request.seeds[k]) for k, p in enumerate(paths)}

    def set_uids(ds: pydicom.Dataset) -> None:
        label, seed = keys[str(ds.filename)]
        ds.SOPInstanceUID = derived_uid("instance", study_uid, sha, seed, {"label": label})

    return set_uids


def synthesize_study(request: SynthesisRequest, bundle: Any, output_dir: str | os.PathLike) -> Path:
    """Generate the request into ``output_dir/<StudyInstanceUID>/``; returns that folder.

    Raises:
        DataError: a label the model does not know, or CT asked of a model without a CT window.
    """
    n = int(bundle.settings.get("num_classes") or 0)
    bad = sorted({v for v in request.labels if not 0 <= v < max(n, 1)})
    if bad:
        raise DataError(f"labels {bad} are not classes of this model (0..{max(n, 1) - 1})", bundle.path)
    study_uid = derived_uid("study", request.text, bundle.model_sha256, None, {})
    final = Path(output_dir) / study_uid
    staging = temporary_sibling(final)
    try:
        paths = _generate_into(bundle, request, staging, _DerivedStudy(study_uid, bundle.model_sha256))
        stamp_files(paths, _instance_uids(study_uid, bundle.model_sha256, request, paths))
        swap_in(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("synthetic study %s: %d images in %s", study_uid, len(paths), final)
    return final
