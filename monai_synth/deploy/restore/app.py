"""The restore application for the MONAI Deploy App SDK.

``DICOMDataLoaderOperator -> DICOMSeriesSelectorOperator (rules JSON) -> RestoreSelectedSeriesOperator``.
Run it with ``python -m monai_synth.deploy.restore`` (which loads and checks the bundle first), or as the
SDK runs apps: ``python app.py -i IN -o OUT -m BUNDLE_DIR`` (environment ``RESTORE_RULES``, ``RESTORE_SEED``,
``RESTORE_DEVICE`` for the options).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from monai_synth.deploy.runtime import preload_cuda_runtime

preload_cuda_runtime()

from monai.deploy.conditions import CountCondition  # noqa: E402
from monai.deploy.core import Application  # noqa: E402
from monai.deploy.operators import DICOMDataLoaderOperator, DICOMSeriesSelectorOperator  # noqa: E402

from monai_synth.deploy.bundle import RESTORE_TASKS, load_app_bundle  # noqa: E402
from monai_synth.deploy.sdk_operators import RestoreSelectedSeriesOperator  # noqa: E402
from monai_synth.deploy.selection import load_rules  # noqa: E402

__all__ = ["RestoreApp"]


class RestoreApp(Application):
    """Restore the selected series of a DICOM study with an exported Med-cDiff bundle.

    Set ``bundle`` (a loaded bundle), ``rules`` and ``options`` before ``run()``; when not set, ``compose``
    loads the bundle from ``-m`` and reads the options from the environment.
    """

    bundle: Any = None
    rules: dict[str, Any] | None = None
    options: dict[str, Any] | None = None

    def compose(self) -> None:
        context = Application.init_app_context(self.argv)
        options = self.options or {"seed": int(os.environ.get("RESTORE_SEED", 0)),
                                   "device": os.environ.get("RESTORE_DEVICE", "cpu")}
        bundle = self.bundle or load_app_bundle(context.model_path, ("med_cdiff",), RESTORE_TASKS,
                                                device=options["device"])
        rules = self.rules or load_rules(os.environ.get("RESTORE_RULES"))
        loader = DICOMDataLoaderOperator(self, CountCondition(self, 1), input_folder=Path(context.input_path),
                                         name="dicom_loader")
        selector = DICOMSeriesSelectorOperator(self, rules=json.dumps(rules), all_matched=True,
                                               name="series_selector")
        self.restorer_op = RestoreSelectedSeriesOperator(
            self, bundle=bundle, input_folder=context.input_path, output_folder=context.output_path, rules=rules,
            options=options, name="restore_series")
        self.add_flow(loader, selector, {("dicom_study_list", "dicom_study_list")})
        self.add_flow(selector, self.restorer_op, {("study_selected_series_list", "study_selected_series_list")})


if __name__ == "__main__":
    RestoreApp().run()
