"""Write a finished training run as a self-contained MONAI bundle in model-zoo layout, atomically.

The bundle is built in a hidden temporary folder next to the output folder and renamed onto it at the end, so
the output folder either does not exist or holds a complete bundle.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

import torch

from monai_synth.export.describe import describe
from monai_synth.export.inference_config import inference_config
from monai_synth.export.metadata import metadata
from monai_synth.export.readme import readme
from monai_synth.export.run_folder import TrainedRun, read_run

__all__ = ["export_run", "check_output_folder", "write_bundle_files"]

logger = logging.getLogger("monai_synth")

LOGGING_CONF = """[loggers]
keys=root

[handlers]
keys=consoleHandler

[formatters]
keys=fullFormatter

[logger_root]
level=INFO
handlers=consoleHandler

[handler_consoleHandler]
class=StreamHandler
level=INFO
formatter=fullFormatter
args=(sys.stdout,)

[formatter_fullFormatter]
format=%(asctime)s - %(name)s - %(levelname)s - %(message)s
"""


def check_output_folder(run: TrainedRun, out_dir: str | os.PathLike, replace: bool = False) -> None:
    """Refuse an output folder that is the run folder, lies inside one of the run's inputs, or is not empty.

    Raises:
        ValueError: naming the output folder and the reason.
    """
    out = Path(os.path.realpath(out_dir))
    run_dir = Path(os.path.realpath(run.run_dir))
    if out == run_dir:
        raise ValueError(f"{out_dir}: is the run folder itself; choose a new folder (e.g. {run.run_dir / 'bundle'})")
    for source in run.inputs:
        real = Path(os.path.realpath(source))
        if out == real or real in out.parents:
            raise ValueError(f"{out_dir}: lies inside the run's input {source}; choose another output folder")
    if out.exists() and not replace and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out_dir}: exists and is not empty; choose a new or empty folder")


def write_bundle_files(run: TrainedRun, folder: Path) -> None:
    """Write every file of the bundle of ``run`` into ``folder`` (which exists and is empty)."""
    description = describe(run)
    meta = metadata(run, description)
    for sub in ("configs", "models", "docs"):
        (folder / sub).mkdir()
    (folder / "configs" / "inference.json").write_text(json.dumps(inference_config(run), indent=4) + "\n")
    (folder / "configs" / "metadata.json").write_text(json.dumps(meta, indent=4) + "\n")
    (folder / "configs" / "logging.conf").write_text(LOGGING_CONF)
    for name, state in run.weights.items():
        torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, folder / "models" / f"{name}.pt")
    (folder / "docs" / "README.md").write_text(readme(run, meta["name"], description))
    (folder / "LICENSE").write_text(files("monai_synth.export").joinpath("apache-2.0.txt").read_text())


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, model: str | None = None,
               replace: bool = False) -> Path:
    """Export the finished training run ``run_dir`` as a MONAI bundle in ``out_dir``; return ``out_dir``.

    Args:
        run_dir: the ``output_dir`` of a finished ``train.json`` of any of the three bundles.
        out_dir: the bundle folder to create: new or empty (or, with ``replace``, replaced as a whole).
        model: Med-cDiff only: the model to export (default: diffusion when trained, else the only one).
        replace: replace an existing ``out_dir`` (what training does with ``<output_dir>/bundle``).

    Raises:
        FileNotFoundError: no finished run in ``run_dir``.
        ValueError: a refused output folder.
    """
    run = read_run(run_dir, model)
    check_output_folder(run, out_dir, replace)
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        write_bundle_files(run, temp)
        _swap_in(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    logger.info("exported %s (%s) to %s", run_dir, run.kind, out)
    return out


def _swap_in(temp: Path, out: Path) -> None:
    """Rename the finished ``temp`` onto ``out`` (an empty ``out`` is removed first; a full one moved aside)."""
    old = None
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
    temp.chmod(0o755)
    temp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
