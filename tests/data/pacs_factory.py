"""A messy PACS-like export for the data-layer tests (issue case 11 and the PACS export test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from dicom_factory import ct_slice, write_ct_series, write_dataset, write_sr
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import write_dataset as write_body
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def write_vr_mismatch(path: Path, k: int = 0) -> Path:
    """A CT slice whose file meta claims Explicit VR Little Endian while the data set is Implicit VR."""
    ds = ct_slice(k, 0.0, instance_number=1, study_uid=generate_uid(), series_uid=generate_uid(), rows=8,
                  columns=8, description="us vr mismatch", modality="CT", orientation=(1, 0, 0, 0, 1, 0),
                  intercept=-1024.0)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    path.parent.mkdir(parents=True, exist_ok=True)
    with pydicom.filebase.DicomFile(str(path), "wb") as fp:
        fp.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(fp, meta, enforce_standard=True)
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_body(fp, ds)
    return path


def write_palette(path: Path) -> Path:
    """An 8-bit PALETTE COLOR secondary capture image (red, green, blue, white ramp)."""
    ds = Dataset()
    ds.SOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.Modality, ds.SeriesDescription, ds.InstanceNumber = "OT", "palette", 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "PALETTE COLOR"
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    for colour, values in zip(("Red", "Green", "Blue"), ([65535, 0, 0, 65535], [0, 65535, 0, 65535],
                                                         [0, 0, 65535, 65535])):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [4, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", np.asarray(values, "<u2").tobytes())
    ds.PixelData = np.tile(np.arange(4, dtype=np.uint8), (4, 1)).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return write_dataset(ds, path)


def write_dicomdir(path: Path, files: list[str]) -> Path:
    """A minimal DICOMDIR whose IMAGE records reference ``files`` (relative, backslash-free list of parts)."""
    ds = Dataset()
    ds.FileSetID = "EXPORT"
    records = []
    for name in files:
        item = Dataset()
        item.DirectoryRecordType = "IMAGE"
        item.ReferencedFileID = name.split("/")
        records.append(item)
    ds.DirectoryRecordSequence = records
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def write_messy_export(root: Path) -> dict[str, object]:
    """Nested folders, files without extension, a DICOMDIR with missing entries, a truncated file, a VR
    mismatch, a palette-colour object, an SR, two CT series of different sizes and a synthetic series.

    Returns:
        What was written: ``big``/``small`` (CT files of 3 slices at 8 x 8 and 2 at 6 x 6), ``truncated``,
        ``mismatch``, ``palette``, ``sr``, ``synthetic`` (files) and ``missing`` (names in DICOMDIR only).
    """
    big = write_ct_series(root / "PAT1" / "ST1", 3, name=lambda k: f"SE1/IM{k}")
    small = write_ct_series(root / "PAT1" / "ST1", 2, rows=6, columns=6, description="scout",
                            name=lambda k: f"SE2/sub/IM{k}")
    truncated = write_ct_series(root / "PAT2", 1, description="cut", name=lambda k: f"X{k}")[0]
    truncated.write_bytes(truncated.read_bytes()[:-40])
    mismatch = write_vr_mismatch(root / "PAT2" / "US" / "VRMIX")
    palette = write_palette(root / "PAT2" / "PAL" / "P1")
    sr = write_sr(root / "PAT2" / "SR" / "REPORT")
    from monai_synth.io import write_synthetic_dicom

    synthetic = root / "PAT1" / "SYN" / "S1"
    write_synthetic_dicom(np.zeros((1, 8, 8), np.float32), synthetic, modality="CT")
    (root / "PAT1" / "README").write_text("export notes\n")
    write_dicomdir(root / "DICOMDIR", ["PAT1/ST1/SE1/IM0", "PAT9/GONE1", "PAT9/GONE2"])
    return {"big": big, "small": small, "truncated": truncated, "mismatch": mismatch, "palette": palette,
            "sr": sr, "synthetic": synthetic, "missing": ["PAT9/GONE1", "PAT9/GONE2"]}
