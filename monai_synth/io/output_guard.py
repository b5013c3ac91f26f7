"""Output guard: outputs never touch inputs, and never land among other data.

Every command that writes files calls one of two functions before writing anything:

- :func:`check_output_path` for one output **file** (a datalist JSON, a report CSV, a metrics file):
  refused when it is one of the inputs, lies inside an input folder, or is a folder that contains an input.
- :func:`check_output_dir` for an output **folder** (a run folder, a folder of samples or restored series):
  the same three checks, and then refused when the folder already holds data that are not this tool's
  own outputs: images (PNG/JPEG/TIFF), NIfTI volumes, ``.npz`` archives or DICOM files (acquired series
  of a PACS export, say). A folder is this tool's own when it holds the marker file
  (``.monai_synth_output`` by default) that :func:`check_output_dir` writes into every folder it accepts.
  ``overwrite=True`` accepts a folder that holds other data, on the user's explicit request.

Both raise :class:`OutputConflict` (a :class:`monai_synth.data.errors.DataError`, so the CLI and the
bundle runner print it as one ``error: <path>: <problem>`` line) that names the output, the input or the
foreign file, and what to do.

Example::

    from monai_synth.io.output_guard import check_output_dir, check_output_path

    check_output_path(args.out, [args.source])                    # a file
    run_dir = check_output_dir(output_dir, [dataset_dir])          # a folder, marked as ours
    run_dir = check_output_dir(output_dir, [dataset_dir], own_marker=".run", overwrite=args.overwrite)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from monai_synth.data.errors import DataError

__all__ = ["DEFAULT_MARKER", "OutputConflict", "check_output_dir", "check_output_path", "foreign_data"]

PathLike = str | os.PathLike

#: Name of the file that marks a folder as holding this tool's own outputs.
DEFAULT_MARKER = ".monai_synth_output"
#: File endings that count as data (images, volumes, archives, DICOM) when found in an output folder.
DATA_SUFFIXES: frozenset[str] = frozenset({
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".nii", ".nii.gz", ".npz", ".npy", ".dcm",
    ".dicom", ".ima", ".nrrd", ".mha", ".mhd",
})
_CHECKED_FILES = 20_000  # a folder scan stops after this many files (a huge foreign folder is refused anyway)


class OutputConflict(DataError):
    """An output path that would overwrite, enter or mix with input or foreign data."""


def _inputs(inputs: Iterable[PathLike | None]) -> list[Path]:
    """Absolute, resolved input paths; ``None`` and ``""`` (the in-memory phantom) are dropped."""
    return [Path(os.path.realpath(Path(p).expanduser())) for p in inputs if p is not None and str(p) != ""]


def _resolved(path: PathLike) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(out: PathLike, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Refuse an output path that is an input, lies inside an input folder, or contains an input.

    Args:
        out: the file or folder about to be written.
        inputs: the paths the command reads (files or folders); ``None``/``""`` entries are ignored.

    Returns:
        ``out`` as given (a :class:`~pathlib.Path`), for chaining.

    Raises:
        OutputConflict: naming ``out``, the input it collides with, and how.
    """
    target = _resolved(out)
    for source in _inputs(inputs):
        if _same_file(target, source):
            problem = f"it is the input {source}; choose another output path"
        elif source.is_dir() and _inside(target, source):
            problem = f"it lies inside the input folder {source}; write outputs outside the data"
        elif _inside(source, target):
            problem = f"it contains the input {source}; write outputs to a separate folder"
        else:
            continue
        raise OutputConflict(f"refusing to write here: {problem}", out)
    return Path(out)


def _data_suffix(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in DATA_SUFFIXES)


def _is_dicom(path: Path) -> bool:
    """DICOM by name (``DICOMDIR``) or by the ``DICM`` preamble at byte 128 (files without an ending)."""
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _walk(folder: Path, own_marker: str | None = None) -> Iterator[Path]:
    """Files under ``folder``, hidden ones and subfolders holding ``own_marker`` (our own outputs) left out."""
    for root, dirs, files in os.walk(folder):
        kept = (d for d in dirs if not d.startswith("."))
        dirs[:] = sorted(d for d in kept if not (own_marker and (Path(root) / d / own_marker).exists()))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def foreign_data(folder: PathLike, limit: int = 5, own_marker: str | None = None) -> list[Path]:
    """Data files (images, volumes, DICOM) found in ``folder``, at most ``limit`` of them.

    Hidden files and folders are ignored; so are files that are not data (text, JSON, checkpoints), and
    subfolders marked with ``own_marker`` (outputs this tool wrote, e.g. one seed's run of a comparison).

    Args:
        folder: the folder to look into (any depth).
        limit: stop after this many hits.
        own_marker: marker file name of this tool's output folders (None: look into every folder).
    """
    found: list[Path] = []
    for count, path in enumerate(_walk(Path(folder), own_marker)):
        if count >= _CHECKED_FILES or len(found) >= limit:
            break
        if _data_suffix(path) or _is_dicom(path):
            found.append(path)
    return found


def _write_marker(folder: Path, marker: str) -> None:
    record = {"tool": "monai_synth", "purpose": "this folder holds monai_synth outputs",
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    temp = folder / f".{marker}.{os.getpid()}.part"
    temp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(temp, folder / marker)


def check_output_dir(out: PathLike, inputs: Iterable[PathLike | None] = (), *, own_marker: str = DEFAULT_MARKER,
                     overwrite: bool = False, create: bool = True) -> Path:
    """Accept ``out`` as an output folder, or refuse it; then create it and mark it as ours.

    Accepted: a folder that does not exist yet, one without data files outside the subfolders this tool
    marked as its own, or one holding ``own_marker`` (this tool made it). Refused: a folder that is an input, lies inside an input folder or contains an
    input (always, even with ``overwrite``); a folder that holds images, volumes or DICOM but no marker,
    unless ``overwrite`` is True.

    Args:
        out: the output folder.
        inputs: the paths the command reads (dataset folder, datalist file, checkpoint ...); ``None``/``""``
            entries are ignored.
        own_marker: name of the marker file (use a distinct name per kind of output folder when one kind
            must not be reused as another).
        overwrite: accept a folder that holds other data (the user asked for it explicitly); such a folder
            is not marked, so the next run must ask again.
        create: create the folder and write the marker (False only checks).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        OutputConflict: naming the folder, the colliding input or the first foreign files.
    """
    folder = check_output_path(out, inputs)
    if folder.exists() and not folder.is_dir():
        raise OutputConflict("output folder is an existing file", folder)
    ours = (folder / own_marker).exists()
    found = foreign_data(folder, own_marker=own_marker) if folder.is_dir() and not ours else []
    if found and not overwrite:
        listing = ", ".join(str(p.relative_to(folder)) for p in found[:3]) + (" ..." if len(found) > 3 else "")
        raise OutputConflict(
            f"output folder already holds data that monai_synth did not write ({listing}); outputs would "
            "mix with them and be read back as one data set. Choose an empty or new folder "
            "(or pass overwrite / --overwrite to write there anyway)", folder)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
        if not found and not (folder / own_marker).exists():  # a forced write does not adopt others' data
            _write_marker(folder, own_marker)
    return folder
