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


def expected_counts(study_key: dict, clicks: list[tuple[str, str, str]]) -> dict:
    """Counts computed by hand from clicks ``(reader, trial, answer)``: per reader and pooled, "real" positive.

    Returns:
        ``{reader or "pooled": {"tp", "fp", "fn", "tn", "fooled": {model: (called real, shown)}}}``.
    """
    out: dict = {}
    for reader, trial, answer in clicks:
        model = study_key["trials"][trial]["model"]
        for who in (reader, "pooled"):
            block = out.setdefault(who, {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "fooled": {}})
            if model is None:
                block["tp" if answer == "real" else "fn"] += 1
            else:
                block["fp" if answer == "real" else "tn"] += 1
                called, shown = block["fooled"].get(model, (0, 0))
                block["fooled"][model] = (called + (answer == "real"), shown + 1)
    return out


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact interval from the beta quantiles (written out here, apart from the package)."""
    from scipy.stats import beta

    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return low, high


def check_rates(block: dict, counts: dict) -> None:
    """Assert a report block's rates equal the hand counts' (values and exact intervals)."""
    tp, fp, fn, tn = (counts[k] for k in ("tp", "fp", "fn", "tn"))
    assert block["counts"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    for name, (k, n) in {"precision": (tp, tp + fp), "recall": (tp, tp + fn), "accuracy": (tp + tn, tp + fp + fn + tn),
                         "fpr": (fp, fp + tn), "fnr": (fn, tp + fn)}.items():
        got = block["rates"][name]
        if n == 0:
            assert got["value"] is None, name
            continue
        low, high = clopper_pearson(k, n)
        assert (got["k"], got["n"]) == (k, n), name
        assert abs(got["value"] - k / n) < 1e-12 and abs(got["low"] - low) < 1e-9 and abs(got["high"] - high) < 1e-9
    for model, (called, shown) in counts["fooled"].items():
        assert (block["fpr_by_model"][model]["k"], block["fpr_by_model"][model]["n"]) == (called, shown), model
