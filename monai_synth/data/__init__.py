"""Data layer: datalists from folders, CSV/JSON files, DICOM exports, NIfTI volumes and MedMNIST archives,
the embedded phantom, and the loader transforms that read any entry in native units.

Typical use::

    from monai_synth.data import build_datalist, class_names, ReadImage2Dd

    datalist = build_datalist("/data/ct_export", modality="CT", series_description="arterial")
    read = ReadImage2Dd(keys=("image",))
    item = read(datalist[0])          # item["image"]: MetaTensor (1, 512, 512) float32 in HU

Names are imported from their submodules on first use (PEP 562), so that light users such as
``monai-synth inspect`` do not pay for importing torch and MONAI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "measure_ctr": "ctr",
    "read_datalist_file": "datalist_file",
    "DicomInstance": "dicom",
    "DicomSeries": "dicom",
    "dicom_datalist": "dicom",
    "read_dicom_frame": "dicom",
    "scan_dicom": "dicom",
    "select_series": "dicom",
    "BadInput": "errors",
    "BadInputReport": "errors",
    "DataError": "errors",
    "raster_datalist": "folder",
    "read_raster": "folder",
    "format_inspection": "inspect",
    "inspect_source": "inspect",
    "ReadImage2D": "loader",
    "ReadImage2Dd": "loader",
    "read_entry": "loader",
    "load_npz_split": "medmnist",
    "npz_datalist": "medmnist",
    "load_volume": "nifti",
    "nifti_datalist": "nifti",
    "read_nifti_slice": "nifti",
    "make_phantom": "phantom",
    "phantom_datalist": "phantom",
    "build_datalist": "sources",
    "class_names": "sources",
    "detect_source_kind": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # static analysers and IDEs see the plain imports
    from .ctr import measure_ctr
    from .datalist_file import read_datalist_file
    from .dicom import DicomInstance, DicomSeries, dicom_datalist, read_dicom_frame, scan_dicom, select_series
    from .errors import BadInput, BadInputReport, DataError
    from .folder import raster_datalist, read_raster
    from .inspect import format_inspection, inspect_source
    from .loader import ReadImage2D, ReadImage2Dd, read_entry
    from .medmnist import load_npz_split, npz_datalist
    from .nifti import load_volume, nifti_datalist, read_nifti_slice
    from .phantom import make_phantom, phantom_datalist
    from .sources import build_datalist, class_names, detect_source_kind
