"""The synthesize application for the MONAI Deploy App SDK: one ``SynthesizeStudyOperator``, run once.

Run it with ``python -m monai_synth.deploy.synthesize`` (which loads and checks the bundle first), or as the
SDK runs apps: ``python app.py -i REQUEST.json -o OUT -m BUNDLE_DIR`` (environment ``SYNTHESIZE_DEVICE``).
"""

from __future__ import annotations

import os
from typing import Any

from monai_synth.deploy.runtime import preload_cuda_runtime

preload_cuda_runtime()

from monai.deploy.conditions import CountCondition  # noqa: E402
from monai.deploy.core import Application  # noqa: E402

from monai_synth.deploy.bundle import load_app_bundle  # noqa: E402
from monai_synth.deploy.sdk_operators import SynthesizeStudyOperator  # noqa: E402

__all__ = ["SynthesizeApp"]


class SynthesizeApp(Application):
    """Generate a synthetic study from a request file with an exported Medfusion or StyleGAN2-ADA bundle.

    Set ``bundle`` (a loaded bundle) before ``run()``; when not set, ``compose`` loads it from ``-m``.
    """

    bundle: Any = None

    def compose(self) -> None:
        context = Application.init_app_context(self.argv)
        bundle = self.bundle or load_app_bundle(context.model_path, ("medfusion", "stylegan2_ada"),
                                                device=os.environ.get("SYNTHESIZE_DEVICE", "cpu"))
        self.synthesizer_op = SynthesizeStudyOperator(
            self, CountCondition(self, 1), bundle=bundle, request_path=context.input_path,
            output_folder=context.output_path, name="synthesize_study")
        self.add_operator(self.synthesizer_op)


if __name__ == "__main__":
    SynthesizeApp().run()
