"""The reader web app: Python's ``http.server`` with one thread per connection, no framework.

The standard library is enough for five routes, keeps the attack surface small and adds no dependency:

- ``GET  /r/<token>``                  the reader's current trial (or the "done" page);
- ``POST /r/<token>/answer``           one answer (form fields ``csrf``, ``trial``, ``answer``, ``likert``),
                                        stored before the reply, then ``303`` back to the reader page;
- ``GET  /r/<token>/img/<id>.png``     an image of the study (random id, stripped PNG);
- ``GET  /admin/<token>``              progress per reader (counts only);
- ``GET  /static/turing.css|.js``      the page's style and keyboard shortcuts.

Anything else, including any unknown token, id or path (``..``, encoded slashes), is a plain 404: files are
looked up by id in the study's key, never by joining a URL to a path. Tokens are compared in constant
time with :func:`hmac.compare_digest`, against every token (no early exit). POSTs need the reader's CSRF
token (an HMAC of the reader id under the study secret, so it survives restarts) and, when the browser
sends one, an ``Origin`` equal to the server's. Pages carry a strict Content-Security-Policy, a
same-origin referrer policy (the URL holds the token) and ``Cache-Control: no-store``. The server binds
to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .pages import STATIC, admin_page, done_page, message_page, reader_page
from .store import AnswerStore
from .study import Study

__all__ = ["ReaderStudyApp", "make_server"]

logger = logging.getLogger(__name__)

_TOKEN = r"[A-Za-z0-9_-]{16,64}"
_ROUTES = {
    "reader": re.compile(rf"/r/({_TOKEN})/?"),
    "answer": re.compile(rf"/r/({_TOKEN})/answer"),
    "image": re.compile(rf"/r/({_TOKEN})/img/([0-9a-f]{{32}})\.png"),
    "admin": re.compile(rf"/admin/({_TOKEN})/?"),
    "static": re.compile(r"/static/(turing\.css|turing\.js)"),
}
MAX_BODY = 4096
#: (status, headers, body) of a reply.
Response = tuple[int, dict[str, str], bytes]
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # the URL holds the token: never send it elsewhere; same-origin keeps the Origin header on form POSTs
    # (with no-referrer, Chromium sends "Origin: null", which the CSRF check refuses)
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def _reply(status: int, body: bytes | str, content_type: str = "text/html; charset=utf-8",
           headers: dict[str, str] | None = None) -> Response:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return status, {"Content-Type": content_type, **(headers or {})}, data


def _not_found() -> Response:
    return _reply(404, message_page(404, "Not found."))


def _find_token(given: str, tokens: dict[str, str]) -> str | None:
    """The key whose token equals ``given``, comparing in constant time against every token."""
    found = None
    for key, token in tokens.items():
        if hmac.compare_digest(token.encode("ascii"), given.encode("ascii")):
            found = key
    return found


class ReaderStudyApp:
    """Request handling of a study, apart from the HTTP plumbing (so it can be tested directly).

    Args:
        study: the loaded study.
    """

    def __init__(self, study: Study) -> None:
        self.study = study
        self.store = AnswerStore(study.root / "answers.sqlite")
        self.secret = bytes.fromhex(study.access["secret"])
        self.reader_tokens: dict[str, str] = dict(study.access["reader_tokens"])
        self.admin_token: str = study.access["admin_token"]
        self.orders = {rid: study.order(rid) for rid in study.reader_ids}
        self.positions = {rid: {step["trial"]: n for n, step in enumerate(order)} for rid, order in self.orders.items()}
        self.image_ids = frozenset(study.key["images"])

    def csrf_token(self, reader: str) -> str:
        """The CSRF token of a reader's form."""
        return hmac.new(self.secret, f"csrf:{reader}".encode(), hashlib.sha256).hexdigest()

    def handle(self, method: str, raw_path: str, form: dict[str, str], origin_ok: bool) -> Response:
        """Route one request; returns (status, headers, body)."""
        path = urlsplit(raw_path).path
        if "%" in path:  # ids and tokens never need escapes: refuse encoded slashes and dots outright
            return _not_found()
        for name, pattern in _ROUTES.items():
            match = pattern.fullmatch(path)
            if match:
                return self._dispatch(name, method, match.groups(), form, origin_ok)
        return _not_found()

    def _dispatch(self, name: str, method: str, groups: tuple[str, ...], form: dict[str, str],
                  origin_ok: bool) -> Response:
        if name == "static":
            if method != "GET":
                return _reply(405, message_page(405, "Method not allowed."), headers={"Allow": "GET"})
            body, content_type = STATIC[groups[0]]
            return _reply(200, body, content_type)
        if name == "admin":
            if method != "GET" or _find_token(groups[0], {"admin": self.admin_token}) is None:
                return _not_found()
            return _reply(200, self._admin())
        reader = _find_token(groups[0], self.reader_tokens)
        if reader is None:
            return _not_found()
        if name == "image":
            return self._image(groups[1]) if method == "GET" else _not_found()
        if name == "answer":
            if method != "POST":
                return _reply(405, message_page(405, "Method not allowed."), headers={"Allow": "POST"})
            return self._answer(reader, groups[0], form, origin_ok)
        if method != "GET":
            return _reply(405, message_page(405, "Method not allowed."), headers={"Allow": "GET"})
        return _reply(200, self._reader(reader, groups[0]))

    def _next_step(self, reader: str) -> tuple[int, dict[str, Any] | None]:
        """(answered count, the first unanswered step of the reader's order or None)."""
        answered = self.store.answered(reader)
        for step in self.orders[reader]:
            if step["trial"] not in answered:
                return len(answered), step
        return len(answered), None

    def _reader(self, reader: str, token: str) -> str:
        done, step = self._next_step(reader)
        total = len(self.orders[reader])
        if step is None:
            return done_page(total)
        return reader_page(base=f"/r/{token}", csrf=self.csrf_token(reader), trial=step["trial"],
                           images=step["images"], position=done, total=total, mode=self.study.mode,
                           likert=self.study.likert)

    def _image(self, image_id: str) -> Response:
        if image_id not in self.image_ids:
            return _not_found()
        return _reply(200, self.study.image_path(image_id).read_bytes(), "image/png")

    def _parse_answer(self, reader: str, form: dict[str, str]) -> tuple[str, str | None, int | None] | str:
        """(answer, chosen image, likert) of a valid form, or the problem as text."""
        trial = form.get("trial", "")
        if trial not in self.positions[reader]:
            return "unknown trial"
        answer = form.get("answer", "")
        if self.study.mode == "2afc":
            if answer not in ("left", "right"):
                return "answer must be left or right"
            images = self.orders[reader][self.positions[reader][trial]]["images"]
            return answer, images[0 if answer == "left" else 1], None
        if answer not in ("real", "fake"):
            return "answer must be real or fake"
        if not self.study.likert:
            return answer, None, None
        likert = form.get("likert", "")
        if likert not in ("1", "2", "3", "4", "5"):
            return "choose a realism score from 1 to 5"
        return answer, None, int(likert)

    def _answer(self, reader: str, token: str, form: dict[str, str], origin_ok: bool) -> Response:
        if not origin_ok or not hmac.compare_digest(form.get("csrf", "").encode(), self.csrf_token(reader).encode()):
            return _reply(403, message_page(403, "Missing or wrong form token (CSRF); reload the page."))
        parsed = self._parse_answer(reader, form)
        if isinstance(parsed, str):
            return _reply(400, message_page(400, parsed))
        answer, chosen, likert = parsed
        trial = form["trial"]
        self.store.add(reader, trial, self.positions[reader][trial], answer, chosen, likert)
        return _reply(303, b"", "text/plain", headers={"Location": f"/r/{token}"})

    def _admin(self) -> str:
        progress = self.store.progress()
        rows = [(self.study.reader_name(rid), progress.get(rid, (0, None))[0], len(self.orders[rid]),
                 progress.get(rid, (0, None))[1]) for rid in self.study.reader_ids]
        return admin_page(rows)


def _handler_class(app: ReaderStudyApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "reader-study"
        sys_version = ""
        timeout = 30  # an idle keep-alive connection frees its thread after this many seconds
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms Nagle/delayed-ACK stall

        def version_string(self) -> str:
            return self.server_version

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
            logger.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool = False) -> None:
            self.send_response(status)
            for key, value in {**SECURITY_HEADERS, **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _origin_ok(self) -> bool:
            origin = self.headers.get("Origin")
            if origin is None or origin == "null":
                return origin is None
            return urlsplit(origin).netloc == self.headers.get("Host", "")

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            self._send(*app.handle("GET", self.path, {}, True))

        def do_HEAD(self) -> None:  # noqa: N802
            self._send(*app.handle("GET", self.path, {}, True), head=True)

        def do_POST(self) -> None:  # noqa: N802
            length = self.headers.get("Content-Length", "")
            if not length.isdigit() or int(length) > MAX_BODY:
                self.close_connection = True
                status = 413 if length.isdigit() else 411
                self._send(*_reply(status, message_page(status, "Missing or too large request body.")))
                return
            raw = self.rfile.read(int(length)).decode("utf-8", errors="replace")
            form = {key: values[0] for key, values in parse_qs(raw, max_num_fields=8).items()}
            self._send(*app.handle("POST", self.path, form, self._origin_ok()))

        def _refuse(self) -> None:
            self._send(*_reply(405, message_page(405, "Method not allowed.")))

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many readers connecting at once must not be refused


def make_server(study: Study, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A threading HTTP server for a study (not yet serving: call ``serve_forever``).

    Raises:
        OSError: the address cannot be bound.
    """
    return _Server((host, port), _handler_class(ReaderStudyApp(study)))
