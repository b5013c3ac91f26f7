"""A private Orthanc PACS for tests: its own config, storage and loopback ports; started and stopped here.

The Debian package ``orthanc`` provides the ``Orthanc`` binary. Nothing of the system service is used.
Only our AE title is registered, and ``DicomAlwaysAllowStore`` is off: a C-STORE from any other AE title
is refused (Orthanc 1.10 aborts the association), so that a refused store can be tested.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORTHANC_AET = "ORTHANC"
OUR_AET = "MONAI_SYNTH"
STRANGER_AET = "STRANGER"


def orthanc_binary() -> str | None:
    """Path of the Orthanc binary, or None."""
    return shutil.which("Orthanc") or next((p for p in ("/usr/sbin/Orthanc",) if os.path.exists(p)), None)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Orthanc:
    """A running test Orthanc."""

    process: subprocess.Popen
    dicom_port: int
    http_port: int
    root: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def rest(self, path: str) -> Any:
        """GET a REST resource as JSON."""
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def raw(self, path: str) -> bytes:
        """GET a REST resource as bytes (e.g. ``/instances/ID/content/0008-2111``: one tag's value)."""
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return answer.read()

    def delete_all(self) -> None:
        """Delete every patient (a clean PACS for the next test)."""
        for patient in self.rest("/patients"):
            request = urllib.request.Request(f"{self.url}/patients/{patient}", method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _config(root: Path, dicom_port: int, http_port: int) -> dict[str, Any]:
    """Orthanc's JSON config: storage in ``root``, loopback only, our AE title as a known modality."""
    return {
        "Name": "monai-synth-test", "StorageDirectory": str(root / "storage"), "IndexDirectory": str(root / "index"),
        "DicomAet": ORTHANC_AET, "DicomPort": dicom_port, "HttpPort": http_port, "DicomServerEnabled": True,
        "HttpServerEnabled": True, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True, "DicomCheckModalityHost": False, "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": False, "DicomModalities": {"monai": [OUR_AET, "127.0.0.1", free_port()]},
        "Plugins": [], "StableAge": 1, "ConcurrentJobs": 1,
        "HttpTimeout": 10, "DicomScpTimeout": 30,
    }


def _wait_ready(orthanc: Orthanc, log: Path, timeout: float = 30.0) -> None:
    """Wait until the REST API answers (or fail with Orthanc's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if orthanc.process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {orthanc.process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            orthanc.rest("/system")
            return
        except OSError:
            time.sleep(0.2)
    orthanc.stop()
    raise RuntimeError(f"Orthanc did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def start_orthanc(root: Path) -> Orthanc:
    """Start Orthanc with a fresh config and storage under ``root``; returns when its REST API answers."""
    binary = orthanc_binary()
    if binary is None:
        raise FileNotFoundError("the Orthanc binary is not installed (apt-get install -y orthanc)")
    root.mkdir(parents=True, exist_ok=True)
    dicom_port, http_port = free_port(), free_port()
    config = root / "orthanc.json"
    config.write_text(json.dumps(_config(root, dicom_port, http_port), indent=1), encoding="utf-8")
    log = root / "orthanc.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, str(config)], stdout=out, stderr=subprocess.STDOUT, cwd=root)
    orthanc = Orthanc(process, dicom_port, http_port, root)
    _wait_ready(orthanc, log)
    return orthanc
