"""The reader web app over HTTP on loopback: answers, resumption, and its security properties."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import pytest
from PIL import Image

from monai_synth.cli import build_parser
from monai_synth.turing import server as server_module
from monai_synth.turing.study import create_study

sys.path.insert(0, str(Path(__file__).resolve().parent))
from turing_factory import InProcessServer, access, current_trial, key, request, three_models  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    real, fakes = three_models(root, n_real=4, n_fake=2)
    study = create_study(root / "study", real, fakes, n_real=4, n_fake=2, size=20, likert=True)
    app = InProcessServer(study.root)
    yield study.root, app.port
    app.close()


def _count(study_dir: Path) -> int:
    with sqlite3.connect(study_dir / "answers.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]


def _answer(port: int, token: str, step: dict, **extra) -> int:
    form = {"csrf": step["csrf"], "trial": step["trial"], "answer": "real", "likert": "4", **extra}
    return request(port, "POST", f"/r/{token}/answer", form)[0]


def test_answers_are_stored_once_and_reader_resumes(served):
    study_dir, port = served
    token = access(study_dir)["reader_tokens"]["r1"]
    first = current_trial(port, token)
    assert "Image 1 of 10" in first["page"]
    assert _answer(port, token, first) == 303
    assert _answer(port, token, first, answer="fake") == 303  # a resent form: the first answer stands
    rows = sqlite3.connect(study_dir / "answers.sqlite").execute(
        "SELECT answer, likert FROM answers WHERE reader = 'r1'").fetchall()
    assert rows == [("real", 4)]
    second = current_trial(port, token)
    assert second["trial"] != first["trial"] and "Image 2 of 10" in second["page"]
    assert current_trial(port, token)["trial"] == second["trial"]  # reopening the link resumes
    other = current_trial(port, access(study_dir)["reader_tokens"]["r2"])
    assert "Image 1 of 10" in other["page"]  # readers are independent


def test_invalid_answers_are_refused(served):
    study_dir, port = served
    token = access(study_dir)["reader_tokens"]["r2"]
    trial = current_trial(port, token)
    before = _count(study_dir)
    assert _answer(port, token, trial, likert="") == 400  # Likert required in this study
    assert _answer(port, token, trial, answer="maybe") == 400
    assert _answer(port, token, trial, trial="0" * 16) == 400
    assert _count(study_dir) == before


def test_post_without_csrf_or_from_another_origin_is_refused(served):
    study_dir, port = served
    token = access(study_dir)["reader_tokens"]["r2"]
    trial = current_trial(port, token)
    before = _count(study_dir)
    form = {"trial": trial["trial"], "answer": "real", "likert": "3"}
    assert request(port, "POST", f"/r/{token}/answer", form)[0] == 403
    assert request(port, "POST", f"/r/{token}/answer", {**form, "csrf": "0" * 64})[0] == 403
    other_csrf = current_trial(port, access(study_dir)["reader_tokens"]["r1"])["csrf"]
    assert request(port, "POST", f"/r/{token}/answer", {**form, "csrf": other_csrf})[0] == 403
    evil = {"Origin": "http://evil.example"}
    assert request(port, "POST", f"/r/{token}/answer", {**form, "csrf": trial["csrf"]}, evil)[0] == 403
    assert _count(study_dir) == before


def test_tokens_are_compared_with_compare_digest(served, monkeypatch):
    study_dir, port = served
    calls = []
    real_compare = server_module.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(server_module.hmac, "compare_digest", spy)
    tokens = access(study_dir)["reader_tokens"]
    assert request(port, "GET", "/r/" + "x" * 32)[0] == 404
    assert len(calls) == len(tokens)  # compared against every token, no early exit
    calls.clear()
    assert request(port, "GET", f"/r/{tokens['r1']}")[0] == 200
    assert (tokens["r1"].encode(), tokens["r1"].encode()) in calls and len(calls) == len(tokens)


def test_no_url_reaches_the_key_answers_or_files(served):
    study_dir, port = served
    tokens, admin = access(study_dir)["reader_tokens"], access(study_dir)["admin_token"]
    r1 = tokens["r1"]
    an_image = next(iter(key(study_dir)["images"]))
    paths = ["/", "/key.json", "/access.json", "/answers.sqlite", "/study.json", f"/images/{an_image}.png",
             f"/r/{r1}/../key.json", f"/r/{r1}/img/../../key.json", f"/r/{r1}/img/..%2f..%2fkey.json",
             f"/r/{r1}/img/%2e%2e%2fkey.png", f"/r/{r1}/img/{'0' * 32}.png", f"/r/{r1}/img/{an_image}",
             "/static/../key.json", "/static/%2e%2e/key.json", f"/r/{r1}/answers", f"/r/{r1}/key",
             f"/admin/{r1}", f"/r/{admin}", f"/r/{r1}/img/{an_image}.png/../../../key.json",
             "/r/" + "A" * 40, "//etc/passwd", "/static/turing.js/../../key.json"]
    for path in paths:
        status, _, body = request(port, "GET", path)
        assert status == 404, path
        assert b"truth" not in body and b"real_image" not in body
    status, _, body = request(port, "GET", f"/r/{r1}/img/{an_image}.png")
    assert status == 200 and body[:4] == b"\x89PNG"


def test_pages_carry_no_truth_and_security_headers(served):
    study_dir, port = served
    token = access(study_dir)["reader_tokens"]["r1"]
    status, headers, body = request(port, "GET", f"/r/{token}")
    page = body.decode()
    assert status == 200
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "same-origin" and headers["cache-control"] == "no-store"
    for record in key(study_dir)["images"].values():
        assert Path(record["file"]).name not in page
    assert not any(model in page.split("<body>")[1] for model in ("fake_A", "fake_B", "fake_C"))


def test_served_real_and_fake_images_look_alike_on_the_wire(served):
    study_dir, port = served
    token = access(study_dir)["reader_tokens"]["r1"]
    images = key(study_dir)["images"]
    seen = {}
    for image_id, record in images.items():
        status, headers, body = request(port, "GET", f"/r/{token}/img/{image_id}.png")
        assert status == 200 and headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(body)) as img:
            seen.setdefault(record["truth"] == "real", set()).add((img.format, img.size, img.mode,
                                                                  tuple(sorted(img.info))))
    assert seen[True] == seen[False] == {("PNG", (20, 20), "L", ())}


def test_admin_shows_progress_only(served):
    study_dir, port = served
    admin = access(study_dir)["admin_token"]
    status, _, body = request(port, "GET", f"/admin/{admin}")
    page = body.decode()
    assert status == 200 and "reader-1" in page and "progress" in page
    for image_id in key(study_dir)["images"]:
        assert image_id not in page
    assert "real</td>" not in page and "fake" not in page
    assert request(port, "POST", f"/admin/{admin}", {})[0] == 404


def test_methods_and_bodies(served):
    study_dir, port = served
    token = access(study_dir)["reader_tokens"]["r1"]
    assert request(port, "GET", f"/r/{token}/answer")[0] == 405
    assert request(port, "PUT", f"/r/{token}")[0] == 405
    big = {"csrf": "x" * 5000}
    assert request(port, "POST", f"/r/{token}/answer", big)[0] == 413


def test_server_binds_to_loopback_by_default(tmp_path):
    args = build_parser().parse_args(["turing", "serve", str(tmp_path)])
    assert args.host == "127.0.0.1"
    assert server_module.make_server.__defaults__[0] == "127.0.0.1"


def test_two_afc_answers_store_the_chosen_image(tmp_path):
    real, fakes = three_models(tmp_path, n_real=6, n_fake=2)
    study = create_study(tmp_path / "study", real, fakes, mode="2afc", n_fake=2, size=16)
    app = InProcessServer(study.root)
    try:
        token = access(study.root)["reader_tokens"]["r1"]
        step = current_trial(app.port, token)
        assert len(step["images"]) == 2 and "Which image is real?" in step["page"]
        form = {"csrf": step["csrf"], "trial": step["trial"], "answer": "right"}
        assert request(app.port, "POST", f"/r/{token}/answer", form)[0] == 303
        assert request(app.port, "POST", f"/r/{token}/answer", {**form, "answer": "left"})[0] == 303  # first stands
        row = sqlite3.connect(study.root / "answers.sqlite").execute(
            "SELECT answer, chosen_image FROM answers").fetchall()
        assert row == [("right", step["images"][1])]
        assert request(app.port, "POST", f"/r/{token}/answer", {**form, "trial": current_trial(
            app.port, token)["trial"], "answer": "real"})[0] == 400  # 2AFC takes left or right only
    finally:
        app.close()
