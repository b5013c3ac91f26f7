"""Tiny image folders, studies and HTTP helpers for the reader-study tests."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def image_folder(folder: Path, count: int, *, shape: tuple[int, ...] = (24, 24), seed: int = 0,
                 fmt: str = "png") -> Path:
    """``count`` random 8-bit images in a new folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"img{i:03d}.{fmt}")
    return folder


def three_models(root: Path, n_real: int = 6, n_fake: int = 4) -> tuple[Path, dict[str, str]]:
    """A real folder and three model folders of tiny PNGs (the real ones larger and non-square)."""
    real = image_folder(root / "real", n_real, shape=(30, 36), seed=1)
    fakes = {name: str(image_folder(root / f"fake_{name}", n_fake, seed=10 + i)) for i, name in enumerate("ABC")}
    return real, fakes


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def access(study_dir: Path) -> dict:
    """The study's tokens (what the person running the study holds)."""
    return json.loads((study_dir / "access.json").read_text())


def key(study_dir: Path) -> dict:
    """The study's answer key."""
    return json.loads((study_dir / "key.json").read_text())


def start_server(study_dir: Path, port: int) -> subprocess.Popen:
    """``monai-synth turing serve`` in a subprocess; returns once it accepts connections."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "monai_synth.cli", "turing", "serve", str(study_dir),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 30 s")


def kill_server(proc: subprocess.Popen) -> None:
    """SIGKILL the server (no clean shutdown) and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


class InProcessServer:
    """The app served from a thread of this process (for the fast tests)."""

    def __init__(self, study_dir: Path) -> None:
        from monai_synth.turing.server import make_server
        from monai_synth.turing.study import load_study

        self.server = make_server(load_study(study_dir), "127.0.0.1", 0)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def request(port: int, method: str, path: str, form: dict | None = None,
            headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One HTTP request on loopback: (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urlencode(form).encode() if form is not None else None
    all_headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    conn.request(method, path, body=body, headers={**all_headers, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def current_trial(port: int, token: str) -> dict | None:
    """Parse the reader page: csrf, trial and image ids; None on the done page."""
    status, _, body = request(port, "GET", f"/r/{token}")
    assert status == 200, status
    page = body.decode()
    if 'id="done"' in page:
        return None
    return {"csrf": re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1),
            "trial": re.search(r'name="trial" value="([0-9a-f]+)"', page).group(1),
            "images": re.findall(r'/img/([0-9a-f]{32})\.png', page), "page": page}
