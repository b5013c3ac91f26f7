"""Compressed DICOM: which transfer syntaxes this installation can decode, and what to say when it cannot.

pydicom decodes uncompressed, deflated and RLE Lossless data by itself; JPEG (baseline, extended and
lossless), JPEG-LS and JPEG 2000 need its plugins, installed by ``pip install 'monai_synth[codecs]'``
(pylibjpeg with pylibjpeg-libjpeg and pylibjpeg-openjpeg, and pyjpegls). A syntax with no decoder (e.g.
an MPEG video, or JPEG without the plugins) is refused with a message naming the file and the syntax.
"""

from __future__ import annotations

import os

import pydicom
from pydicom.uid import UID

__all__ = ["CODECS_HINT", "can_decode", "decode_problem", "transfer_syntax_of"]

CODECS_HINT = "pip install 'monai_synth[codecs]' (pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg, pyjpegls)"


def transfer_syntax_of(path: str | os.PathLike) -> UID | None:
    """The file's TransferSyntaxUID (None when it has no File Meta or cannot be read)."""
    try:
        meta = pydicom.filereader.read_file_meta_info(path)
    except Exception:  # noqa: BLE001 - any unreadable header means "unknown"
        return None
    value = meta.get("TransferSyntaxUID")
    return UID(str(value)) if value else None


def can_decode(syntax: str) -> bool:
    """Whether an installed pydicom decoder handles the transfer syntax ``syntax``."""
    from pydicom.pixels import get_decoder

    try:
        return bool(get_decoder(UID(syntax)).is_available)
    except NotImplementedError:
        return False


def decode_problem(path: str | os.PathLike, error: BaseException) -> str:
    """The problem to report for pixel data of ``path`` that could not be decoded (without the path)."""
    syntax = transfer_syntax_of(path)
    if syntax is not None and syntax.is_compressed and not can_decode(syntax):
        return f"no decoder for transfer syntax {syntax.name!r} ({syntax}) in this installation; {CODECS_HINT}"
    named = f"transfer syntax {syntax.name!r} ({syntax}): " if syntax is not None else ""
    return f"{named}{type(error).__name__}: {error}"
