"""Load test of the reader-study server on loopback: many readers answering as fast as they can.

Each reader is a thread with its own keep-alive connection that loops: GET its page (the current trial and
the form token), POST an answer; every tenth answer is sent twice, as a double click would. The server
runs as ``monai-synth turing serve`` in its own process. At the end the database must hold exactly one
row per acknowledged (reader, trial) (no answer lost, none duplicated), and the response times are
summarised (p50, p95, max, for GET, POST and both).

Usage (20 readers for 60 seconds, about a minute of CPU on two cores)::

    PYTHONPATH=. python benchmarks/turing_load.py --readers 20 --duration 60

The study is built in a temporary folder from tiny random images; nothing is left behind.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_TRIAL = re.compile(r'name="trial" value="([0-9a-f]+)"')


def make_load_study(root: Path, readers: int, trials: int) -> Path:
    """A real-fake study of ``trials`` tiny images (half real) for ``readers`` readers."""
    from monai_synth.turing.study import create_study

    rng = np.random.default_rng(0)
    for name in ("real", "fake"):
        (root / name).mkdir(parents=True)
        for i in range(trials // 2):
            Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(root / name / f"{i:05d}.png")
    study = create_study(root / "study", root / "real", {"gan": str(root / "fake")}, n_real=trials // 2,
                         n_fake=trials // 2, readers=[f"reader-{i + 1}" for i in range(readers)], size=16)
    return study.root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(study_dir: Path, port: int) -> subprocess.Popen:
    """``monai-synth turing serve`` in its own process; returns once it accepts connections."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "monai_synth.cli", "turing", "serve", str(study_dir),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {proc.returncode}") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start within 30 s")


class LoadReader(threading.Thread):
    """One reader answering until the deadline or the end of their trials."""

    def __init__(self, port: int, token: str, deadline: float) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.deadline = port, token, deadline
        self.get_times: list[float] = []
        self.post_times: list[float] = []
        self.acknowledged: set[str] = set()
        self.errors: list[str] = []
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def _request(self, method: str, path: str, body: bytes | None, times: list[float]) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        for attempt in (0, 1):  # one reconnect if the server closed an idle keep-alive connection
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                if attempt:
                    raise
                continue
            times.append(time.perf_counter() - start)
            return response.status, data
        raise RuntimeError("unreachable")

    def _step(self, n: int) -> bool:
        status, page = self._request("GET", f"/r/{self.token}", None, self.get_times)
        text = page.decode()
        if status != 200:
            self.errors.append(f"GET {status}")
            return False
        if 'id="done"' in text:
            return False
        trial = _TRIAL.search(text).group(1)
        form = urlencode({"csrf": _CSRF.search(text).group(1), "trial": trial,
                          "answer": "real" if n % 2 else "fake"}).encode()
        for _ in range(2 if n % 10 == 0 else 1):
            status, _ = self._request("POST", f"/r/{self.token}/answer", form, self.post_times)
            if status != 303:
                self.errors.append(f"POST {status}")
                return False
        self.acknowledged.add(trial)
        return True

    def run(self) -> None:
        n = 0
        try:
            while time.monotonic() < self.deadline and self._step(n):
                n += 1
        except Exception as err:  # recorded, and reported as a failure of the run
            self.errors.append(f"{type(err).__name__}: {err}")
        finally:
            self.conn.close()


def _percentiles(times: list[float]) -> dict[str, float | int | None]:
    if not times:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    ms = np.asarray(times) * 1000.0
    return {"count": int(ms.size), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max())}


def run_load(study_dir: Path, duration: float, port: int | None = None) -> dict[str, Any]:
    """Serve ``study_dir``, let every reader of it answer for ``duration`` seconds, and check the database."""
    access = json.loads((study_dir / "access.json").read_text())
    port = port or _free_port()
    server = start_server(study_dir, port)
    try:
        deadline = time.monotonic() + duration
        readers = {rid: LoadReader(port, token, deadline) for rid, token in access["reader_tokens"].items()}
        started = time.monotonic()
        for reader in readers.values():
            reader.start()
        for reader in readers.values():
            reader.join(timeout=duration + 60)
        elapsed = time.monotonic() - started
    finally:
        server.kill()
        server.wait(timeout=10)
    with sqlite3.connect(study_dir / "answers.sqlite") as db:
        stored = set(db.execute("SELECT reader, trial FROM answers").fetchall())
        rows = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    acknowledged = {(rid, trial) for rid, r in readers.items() for trial in r.acknowledged}
    get_times = [t for r in readers.values() for t in r.get_times]
    post_times = [t for r in readers.values() for t in r.post_times]
    return {"readers": len(readers), "duration_s": round(elapsed, 2), "acknowledged_answers": len(acknowledged),
            "stored_rows": int(rows), "lost": len(acknowledged - stored),
            "unacknowledged_rows": len(stored - acknowledged),
            "duplicates": int(rows) - len(stored), "answers_per_s": round(len(acknowledged) / elapsed, 1),
            "errors": [e for r in readers.values() for e in r.errors][:10],
            "get": _percentiles(get_times), "post": _percentiles(post_times),
            "all": _percentiles(get_times + post_times)}


def main(argv: list[str] | None = None) -> int:
    """Build a study, run the load, print the summary; exit status 1 if an answer was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20, help="concurrent readers (default 20)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load, at most 60 (default 60)")
    parser.add_argument("--trials", type=int, default=4000, help="trials per reader (default 4000)")
    args = parser.parse_args(argv)
    duration = min(max(args.duration, 0.5), 60.0)
    with tempfile.TemporaryDirectory(prefix="turing-load-") as tmp:
        study_dir = make_load_study(Path(tmp), args.readers, args.trials)
        result = run_load(study_dir, duration)
    print(json.dumps(result, indent=1))
    ok = result["lost"] == 0 and result["duplicates"] == 0 and result["unacknowledged_rows"] == 0 \
        and not result["errors"]
    print(f"{result['readers']} readers, {result['duration_s']} s: {result['acknowledged_answers']} answers "
          f"acknowledged, {result['stored_rows']} stored; p95 response time {result['all']['p95_ms']:.1f} ms "
          f"(GET {result['get']['p95_ms']:.1f} ms, POST {result['post']['p95_ms']:.1f} ms): "
          f"{'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
