"""Talk to a PACS over DICOM networking (pynetdicom): C-ECHO, C-FIND, C-GET, C-STORE.

One idea per module: ``config`` (where the PACS is), ``association`` (connect, with clear errors),
``echo``, ``find``, ``pull`` (C-GET into a folder, atomically), ``push`` (C-STORE a folder) and
``commands`` (the ``monai-synth pacs`` subcommands).
"""

from monai_synth.deploy.pacs.config import PacsConfig, load_pacs_config
from monai_synth.deploy.pacs.echo import echo
from monai_synth.deploy.pacs.errors import PacsError
from monai_synth.deploy.pacs.find import find_series, find_studies
from monai_synth.deploy.pacs.pull import pull
from monai_synth.deploy.pacs.push import PushReport, push_folder

__all__ = [
    "PacsConfig",
    "PacsError",
    "PushReport",
    "echo",
    "find_series",
    "find_studies",
    "load_pacs_config",
    "pull",
    "push_folder",
]
