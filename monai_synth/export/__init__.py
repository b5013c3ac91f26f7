"""Export a finished training run as a self-contained MONAI bundle (model-zoo layout), and load one back.

- :func:`export_run` (``monai-synth export RUN_DIR OUT_DIR``): ``configs/inference.json`` (``network_def`` and a
  pipeline object), ``configs/metadata.json`` (official schema, measured figures), ``models/model.pt`` (+
  ``models/autoencoder.pt`` for Medfusion), ``docs/README.md``, ``LICENSE``. Every finished training also writes
  its bundle to ``<output_dir>/bundle`` (:func:`export_after_training`).
- :func:`load_exported`: the Python API over an exported bundle (``generate`` / ``restorer``).
"""

from monai_synth.export.after_training import export_after_training
from monai_synth.export.exported import ExportedBundle, load_exported
from monai_synth.export.writer import export_run

__all__ = ["ExportedBundle", "export_after_training", "export_run", "load_exported"]
