"""The HTML, CSS and JavaScript of the reader and admin pages (no template engine, everything escaped).

Scripts and styles are served as static files, so the pages run under a strict Content-Security-Policy
without inline code. Keyboard shortcuts (handled by ``turing.js``): real-fake: ``R`` real, ``F``
synthetic, ``1``-``5`` the realism score (with Likert, ``R``/``F`` then submit once a score is chosen);
2AFC: left/right arrow (or ``1``/``2``) picks the image believed real.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

__all__ = ["STATIC", "admin_page", "done_page", "message_page", "reader_page"]

CSS = """
body{font-family:system-ui,sans-serif;background:#111;color:#eee;margin:0;padding:1rem;text-align:center}
header{display:flex;gap:1rem;justify-content:center;align-items:center;margin-bottom:.8rem}
progress{width:18rem}
.images{display:flex;gap:1rem;justify-content:center}
.images img{width:min(60vh,44vw);height:auto;image-rendering:auto;background:#000}
.single img{width:min(60vh,90vw)}
.buttons{margin-top:1rem;display:flex;gap:1rem;justify-content:center;flex-wrap:wrap}
button{font-size:1.1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid #888;background:#333;color:#fff}
button:hover{background:#555}
fieldset{border:1px solid #555;display:inline-block;margin-top:.8rem}
label{margin:0 .5rem}
kbd{border:1px solid #888;border-radius:3px;padding:0 .3rem;font-size:.85em}
table{margin:auto;border-collapse:collapse}td,th{border:1px solid #555;padding:.3rem .8rem}
.hint{color:#aaa;font-size:.9rem}
"""

JS = """
(function () {
  var form = document.getElementById('answer');
  if (!form) { return; }
  var sent = false;
  form.addEventListener('submit', function (event) {
    if (sent) { event.preventDefault(); return; }
    sent = true;
  });
  function press(selector) {
    var el = form.querySelector(selector);
    if (!el) { return false; }
    if (el.type === 'radio') { el.checked = true; return true; }
    if (form.requestSubmit) { form.requestSubmit(el); } else { el.click(); }
    return true;
  }
  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key.toLowerCase();
    var done = false;
    if (key === 'arrowleft') { done = press('[data-key="left"]'); }
    else if (key === 'arrowright') { done = press('[data-key="right"]'); }
    else { done = press('[data-key="' + key + '"]'); }
    if (done) { event.preventDefault(); }
  });
})();
"""

STATIC = {"turing.css": (CSS.encode("utf-8"), "text/css; charset=utf-8"),
          "turing.js": (JS.encode("utf-8"), "text/javascript; charset=utf-8")}


def _page(title: str, body: str, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/turing.css"></head>'
            f'<body>{body}<script src="/static/turing.js"></script></body></html>')


def _likert_fieldset() -> str:
    boxes = "".join(f'<label><input type="radio" name="likert" value="{v}" data-key="{v}" required> {v}</label>'
                    for v in range(1, 6))
    return (f'<fieldset><legend>Realism: 1 clearly synthetic ... 5 clearly real (keys <kbd>1</kbd>-<kbd>5</kbd>)'
            f'</legend>{boxes}</fieldset>')


def reader_page(*, base: str, csrf: str, trial: str, images: list[str], position: int, total: int, mode: str,
                likert: bool) -> str:
    """The page of one trial.

    Args:
        base: the reader's URL prefix (``/r/<token>``).
        csrf: the reader's CSRF token.
        trial: the trial id.
        images: image ids, left to right.
        position: 0-based index of this trial in the reader's order (answered so far).
        total: trials in the study.
        mode: ``real-fake`` or ``2afc``.
        likert: ask a realism score.
    """
    tags = "".join(f'<img src="{escape(base)}/img/{escape(i)}.png" alt="image {n + 1}">' for n, i in enumerate(images))
    if mode == "2afc":
        question = "Which image is real?"
        buttons = ('<button type="submit" name="answer" value="left" data-key="left" id="left">'
                   '&larr; Left is real</button>'
                   '<button type="submit" name="answer" value="right" data-key="right" id="right">'
                   'Right is real &rarr;</button>')
        hint = "Keys: <kbd>&larr;</kbd> left, <kbd>&rarr;</kbd> right"
    else:
        question = "Is this image real or synthetic?"
        buttons = ('<button type="submit" name="answer" value="real" data-key="r" id="real">Real (<kbd>R</kbd>)'
                   '</button><button type="submit" name="answer" value="fake" data-key="f" id="fake">'
                   'Synthetic (<kbd>F</kbd>)</button>')
        hint = "Keys: <kbd>R</kbd> real, <kbd>F</kbd> synthetic"
    body = (f'<header><span id="progress-text">Image {position + 1} of {total}</span>'
            f'<progress value="{position}" max="{total}"></progress></header>'
            f'<h2>{question}</h2>'
            f'<form method="post" action="{escape(base)}/answer" id="answer">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="trial" value="{escape(trial)}">'
            f'<div class="images {"pair" if mode == "2afc" else "single"}">{tags}</div>'
            f'{_likert_fieldset() if likert else ""}<div class="buttons">{buttons}</div>'
            f'<p class="hint">{hint}. Your answer is saved at once; you can close the page and come back.</p>'
            f'</form>')
    return _page(f"Reader study {position + 1}/{total}", body)


def done_page(total: int) -> str:
    """The page shown once every trial is answered."""
    return _page("Reader study: done", f'<h2 id="done">Thank you: all {total} answers are saved.</h2>'
                                       f'<p class="hint">You can close this page.</p>')


def message_page(status: int, text: str) -> str:
    """A short error page."""
    return _page(f"{status}", f"<h2>{status}</h2><p>{escape(text)}</p>")


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def admin_page(rows: list[tuple[str, int, int, float | None]]) -> str:
    """Progress of every reader (name, answered, total, last answer time): no answers, no key."""
    lines = "".join(f"<tr><td>{escape(name)}</td><td>{done}</td><td>{total}</td><td>{_when(last)}</td></tr>"
                    for name, done, total, last in rows)
    all_done, all_total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    body = (f"<h2>Reader study: progress</h2><p>{all_done} of {all_total} answers given.</p>"
            f"<table><tr><th>reader</th><th>answered</th><th>of</th><th>last answer</th></tr>{lines}</table>"
            f'<p class="hint">This page shows progress only. Run <kbd>monai-synth turing report</kbd> for results.</p>')
    return _page("Reader study: progress", body, refresh=15)
