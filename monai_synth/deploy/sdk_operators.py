"""The applications' own operators for the MONAI Deploy App SDK (import only where the SDK is installed).

They wrap the same functions the apps run without the SDK: :func:`restore_selected_files` after the SDK's
``DICOMDataLoaderOperator`` and ``DICOMSeriesSelectorOperator``, and :func:`synthesize_study` for a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monai.deploy.core import Fragment, Operator, OperatorSpec

from monai_synth.data.dicom import scan_dicom
from monai_synth.deploy.request import read_request
from monai_synth.deploy.restore_study import restore_selected_files
from monai_synth.deploy.selection import require_one
from monai_synth.deploy.synthesize_study import synthesize_study

__all__ = ["RestoreSelectedSeriesOperator", "SynthesizeStudyOperator"]


def _selected_files(study_selected_series_list: Any) -> tuple[list[list[str]], list[str]]:
    """File paths and a description of each series the SDK's selector chose."""
    files, names = [], []
    for study_selection in study_selected_series_list or []:
        for selected in study_selection.selected_series:
            series = selected.series
            paths = [str(sop.get_native_sop_instance().filename) for sop in series.get_sop_instances()]
            files.append(paths)
            names.append(f"{series.SeriesInstanceUID} ({getattr(series, 'Modality', '?')} "
                         f"'{getattr(series, 'SeriesDescription', '')}', {len(paths)} files, "
                         f"selection '{selected.selection_name}')")
    return files, names


class RestoreSelectedSeriesOperator(Operator):
    """Restore the one series chosen by the selector into a derived series (input ``study_selected_series_list``).

    Args:
        fragment: the application.
        bundle: the loaded Med-cDiff bundle.
        input_folder: the application's input (for messages).
        output_folder: the application's output.
        rules: the selection rules (for messages).
        options: ``seed``, ``device``, ``batch_size`` of :func:`restore_selected_files`.
    """

    def __init__(self, fragment: Fragment, *args: Any, bundle: Any, input_folder: str | os.PathLike,
                 output_folder: str | os.PathLike, rules: Mapping[str, Any], options: Mapping[str, Any],
                 **kwargs: Any) -> None:
        self.bundle, self.input_folder, self.output_folder = bundle, Path(input_folder), Path(output_folder)
        self.rules, self.options = rules, dict(options)
        self.written: Path | None = None
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("study_selected_series_list")

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        files, names = _selected_files(op_input.receive("study_selected_series_list"))
        found = [str(s) for s in scan_dicom(self.input_folder)] if len(files) != 1 else names
        require_one(found, names, self.rules, self.input_folder)
        self.written = restore_selected_files(files[0], self.bundle, self.output_folder, source=self.input_folder,
                                              **self.options)


class SynthesizeStudyOperator(Operator):
    """Generate the study a request file asks for (no ports: runs once under a ``CountCondition``).

    Args:
        fragment: the application.
        bundle: the loaded Medfusion or StyleGAN2-ADA bundle.
        request_path: the request file.
        output_folder: the application's output.
    """

    def __init__(self, fragment: Fragment, *args: Any, bundle: Any, request_path: str | os.PathLike,
                 output_folder: str | os.PathLike, **kwargs: Any) -> None:
        self.bundle, self.request_path, self.output_folder = bundle, Path(request_path), Path(output_folder)
        self.written: Path | None = None
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        pass

    def compute(self, op_input: Any, op_output: Any, context: Any) -> None:
        self.written = synthesize_study(read_request(self.request_path), self.bundle, self.output_folder)
