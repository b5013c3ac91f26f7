"""Writers for generated images (PNG, NIfTI, DICOM marked synthetic) and the provenance manifest.

Every output is written atomically (temporary file in the same folder, then ``os.replace``) and
never over an input file. See ``docs/outputs.md``.
"""

from monai_synth.io.atomic import atomic_open, refuse_input_path
from monai_synth.io.dicom import load_source, write_dicom_series, write_synthetic_dicom
from monai_synth.io.manifest import MANIFEST_FIELDS, MANIFEST_NAME, ManifestWriter, read_manifest, sha256_file
from monai_synth.io.output_guard import OutputConflict, check_output_dir, check_output_path
from monai_synth.io.nifti import affine_from_spacing, write_nifti
from monai_synth.io.png import write_png
from monai_synth.io.save import FORMATS, save_generated
from monai_synth.io.synthetic_study import SyntheticStudy

__all__ = [
    "FORMATS",
    "MANIFEST_FIELDS",
    "MANIFEST_NAME",
    "ManifestWriter",
    "OutputConflict",
    "SyntheticStudy",
    "affine_from_spacing",
    "atomic_open",
    "check_output_dir",
    "check_output_path",
    "load_source",
    "read_manifest",
    "refuse_input_path",
    "save_generated",
    "sha256_file",
    "write_dicom_series",
    "write_nifti",
    "write_png",
    "write_synthetic_dicom",
]
