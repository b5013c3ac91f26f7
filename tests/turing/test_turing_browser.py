"""Two scripted readers in headless Chromium; the server is SIGKILLed and restarted mid-study.

Needs Playwright for Python and Debian's ``chromium`` (``.ci/install-turing.sh`` installs both); skipped
when either is missing. Set ``TURING_FIGURES=<folder>`` to keep the screenshots of the reader page and of
``report.html`` (docs/figures/ holds the committed ones).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from monai_synth.cli import main
from monai_synth.turing.study import create_study

sys.path.insert(0, str(Path(__file__).resolve().parent))
from turing_factory import (access, check_rates, expected_counts, free_port, key, kill_server,  # noqa: E402
                            start_server)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def _phantom_folders(root: Path) -> tuple[Path, dict[str, str]]:
    """Phantom chest radiographs as 'real' images, and three degraded versions as three 'models'."""
    from monai_synth.data.phantom import make_phantom

    degrade = {"sharp": lambda x, r: x + r.normal(0, 0.02, x.shape),
               "noisy": lambda x, r: x + r.normal(0, 0.08, x.shape),
               "blurry": lambda x, r: ndimage.gaussian_filter(x, 2.0)}
    folders = {name: root / name for name in ["real", *degrade]}
    for folder in folders.values():
        folder.mkdir()
    for i in range(6):
        rng = np.random.default_rng(i)
        real = make_phantom(100 + i, 64)["image"][0]
        Image.fromarray((real * 255).astype(np.uint8)).save(folders["real"] / f"xr{i}.png")
        fake = make_phantom(200 + i, 64)["image"][0]
        for name, fn in degrade.items():
            Image.fromarray((np.clip(fn(fake, rng), 0, 1) * 255).astype(np.uint8)).save(folders[name] / f"g{i}.png")
    return folders["real"], {name: str(folders[name]) for name in degrade}


class ScriptedReader:
    """A reader in their own browser context; records each click as (reader name, trial id, answer, likert)."""

    def __init__(self, browser, name: str, link: str, clicks: list) -> None:
        self.page = browser.new_context(viewport={"width": 820, "height": 720}).new_page()
        self.name, self.link, self.clicks = name, link, clicks
        self.page.goto(link)

    def progress(self) -> str:
        return self.page.inner_text("#progress-text")

    def answer(self, n: int, use_keys: bool) -> None:
        """Answer the current trial; the answer and score are a function of ``n``."""
        page = self.page
        trial = page.input_value("input[name=trial]")
        answer, likert = ("real" if n % 3 != 1 else "fake"), 1 + (n * 2) % 5
        with page.expect_navigation():
            if use_keys:
                page.keyboard.press(str(likert))
                page.keyboard.press("r" if answer == "real" else "f")
            else:
                page.check(f'input[name=likert][value="{likert}"]')
                page.click("#real" if answer == "real" else "#fake")
        self.clicks.append((self.name, trial, answer, likert))

    def reopen(self) -> None:
        self.page.goto(self.link)


def _run_readers(browser, study_dir: Path, port: int, clicks: list, figures: Path | None,
                 server) -> tuple[list[ScriptedReader], object]:
    tokens = access(study_dir)["reader_tokens"]
    readers = [ScriptedReader(browser, name, f"http://127.0.0.1:{port}/r/{tokens[rid]}", clicks)
               for rid, name in (("r1", "ann"), ("r2", "bob"))]
    # a key press without a realism score must not submit (the form requires one)
    before = readers[0].page.input_value("input[name=trial]")
    readers[0].page.keyboard.press("f")
    readers[0].page.wait_for_timeout(300)
    assert readers[0].page.input_value("input[name=trial]") == before
    for n in range(5):
        for r, reader in enumerate(readers):
            reader.answer(n + 10 * r, use_keys=(n + r) % 2 == 0)
    if figures is not None:
        readers[0].page.check('input[name=likert][value="4"]')
        readers[0].page.screenshot(path=str(figures / "turing_reader.png"))
    kill_server(server)  # mid-study, no clean shutdown
    server = start_server(study_dir, port)
    for reader in readers:
        reader.reopen()
        assert reader.progress() == "Image 6 of 10"  # resumes where they stopped
    for n in range(5, 10):
        for r, reader in enumerate(readers):
            reader.answer(n + 10 * r, use_keys=(n + r) % 2 == 1)
    for reader in readers:
        assert reader.page.is_visible("#done")
    return readers, server


def _shrink(path: Path) -> None:
    """Keep committed screenshots small: 64-colour palette PNG."""
    with Image.open(path) as img:
        img.convert("RGB").quantize(64).save(path, optimize=True)


def test_two_readers_in_chromium_survive_a_server_kill(tmp_path):
    real, fakes = _phantom_folders(tmp_path)
    study = create_study(tmp_path / "study", real, fakes, n_real=4, n_fake=2, readers=["ann", "bob"],
                         likert=True, size=128, seed=3)
    figures = Path(os.environ["TURING_FIGURES"]) if os.environ.get("TURING_FIGURES") else None
    port, clicks = free_port(), []
    server = start_server(study.root, port)
    try:
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            _, server = _run_readers(browser, study.root, port, clicks, figures, server)
            assert main(["turing", "report", str(study.root), "--permutations", "500", "--fid", "sharp=20",
                         "--fid", "noisy=45", "--fid", "blurry=90"]) == 0
            if figures is not None:
                page = browser.new_page(viewport={"width": 1100, "height": 800})
                page.goto((study.root / "report" / "report.html").as_uri())
                page.screenshot(path=str(figures / "turing_report.png"), full_page=True)
                for name in ("turing_reader.png", "turing_report.png"):
                    _shrink(figures / name)
            browser.close()
    finally:
        kill_server(server)
    assert len(clicks) == 20 and len({(who, trial) for who, trial, _, _ in clicks}) == 20
    report = json.loads((study.root / "report" / "report.json").read_text())
    expected = expected_counts(key(study.root), [(who, trial, answer) for who, trial, answer, _ in clicks])
    for who in ("ann", "bob", "pooled"):
        block = report["readers"][who] if who != "pooled" else report["pooled"]
        check_rates(block, expected[who])
        rows = [c for c in clicks if who in ("pooled", c[0])]
        is_real = [key(study.root)["trials"][trial]["model"] is None for _, trial, _, _ in rows]
        real_scores = [lk for (_, _, _, lk), flag in zip(rows, is_real) if flag]
        fake_scores = [lk for (_, _, _, lk), flag in zip(rows, is_real) if not flag]
        assert block["likert"]["mean_real"] == pytest.approx(np.mean(real_scores))
        assert block["likert"]["mean_fake"] == pytest.approx(np.mean(fake_scores))
    assert report["progress"] == {"ann": 10, "bob": 10}
