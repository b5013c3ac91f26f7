"""Where the PACS is: host, port, AE titles, timeouts and optional TLS, from options or a config file.

A config file is JSON or YAML with the keys of :class:`PacsConfig` (``tls`` as a mapping with ``ca``,
``cert``, ``key``), e.g.::

    {"host": "pacs.example.org", "port": 11112, "called_aet": "PACS", "calling_aet": "MONAI_SYNTH",
     "tls": {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}}

Relative TLS file paths are taken relative to the config file. Options given on the command line win.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError

__all__ = ["PacsConfig", "TlsFiles", "load_pacs_config"]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for DICOM over TLS (pynetdicom ``tls_args``).

    Attributes:
        ca: certificate authority bundle used to verify the PACS; None: the system's default.
        cert: our client certificate (mutual TLS), or None.
        key: the private key of ``cert``, or None.
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class PacsConfig:
    """A PACS and how we introduce ourselves to it.

    Attributes:
        host: host name or address of the PACS.
        port: its DICOM port.
        called_aet: the PACS's AE title.
        calling_aet: our AE title (the PACS must know it for C-GET/C-MOVE when it checks callers).
        timeout: seconds to wait for a connection, an answer or a network message.
        tls: TLS files, or None for plain DICOM.
    """

    host: str = "127.0.0.1"
    port: int = 4242
    called_aet: str = "ORTHANC"
    calling_aet: str = "MONAI_SYNTH"
    timeout: float = 30.0
    tls: TlsFiles | None = None

    def __post_init__(self) -> None:
        for name in ("called_aet", "calling_aet"):
            title = getattr(self, name)
            if not 0 < len(title) <= 16 or "\\" in title:
                raise ValueError(f"{name} must be 1 to 16 characters without a backslash, got {title!r}")
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}")

    @property
    def name(self) -> str:
        """``AE@host:port``, the way messages name the PACS."""
        return f"{self.called_aet}@{self.host}:{self.port}"

    def updated(self, **options: Any) -> PacsConfig:
        """A copy with the options that are not None (command-line options over a config file)."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})


def _read_mapping(path: Path) -> Mapping[str, Any]:
    """The config file's mapping (JSON, or YAML for ``.yaml``/``.yml``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"cannot read the PACS config ({err.strerror})", path) from err
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as err:  # json.JSONDecodeError and yaml.YAMLError are ValueError-like here
        raise DataError(f"not a valid PACS config ({err})", path) from err
    except Exception as err:  # yaml.YAMLError
        raise DataError(f"not a valid PACS config ({err})", path) from err
    if not isinstance(data, Mapping):
        raise DataError("a PACS config must be a mapping of host, port, called_aet, ...", path)
    return data


def _tls_files(value: Any, folder: Path, path: Path) -> TlsFiles | None:
    """TLS files from the config, relative to its folder."""
    if value in (None, False):
        return None
    if value is True:
        return TlsFiles()
    if not isinstance(value, Mapping) or set(value) - {"ca", "cert", "key"}:
        raise DataError("tls must be true or a mapping with ca, cert and key", path)
    return TlsFiles(**{k: os.fspath(folder / str(v)) for k, v in value.items() if v})


def load_pacs_config(path: str | os.PathLike | None = None, **options: Any) -> PacsConfig:
    """A :class:`PacsConfig` from a config file (optional) with ``options`` (not None) on top.

    Raises:
        DataError: unreadable file, unknown keys, or bad values, naming the file.
    """
    config = PacsConfig()
    if path is not None:
        file = Path(path)
        data = dict(_read_mapping(file))
        known = {f.name for f in fields(PacsConfig)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"unknown PACS config keys {unknown}; known: {sorted(known)}", file)
        data["tls"] = _tls_files(data.get("tls"), file.parent, file)
        try:
            config = PacsConfig(**data)
        except (TypeError, ValueError) as err:
            raise DataError(str(err), file) from err
    return config.updated(**options)
