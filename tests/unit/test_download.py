from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from python_buildpack.download import download, redact_url
from python_buildpack.errors import (
    ArchiveNotFound,
    ChecksumMismatch,
    DownloadFailed,
)
from python_buildpack.output import Log

BODY = b"python archive bytes " * 50_000  # ~1 MB, more than one read chunk
BODY_SHA = hashlib.sha256(BODY).hexdigest()

# path -> list of behaviours, one consumed per request (the last one repeats)
Behaviour = Callable[[BaseHTTPRequestHandler], None]


def ok(body: bytes = BODY) -> Behaviour:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def status(code: int) -> Behaviour:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_error(code)

    return respond


def drop_after(nbytes: int) -> Behaviour:
    """Promise the whole body, send part of it, then hang up."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(BODY)))
        handler.end_headers()
        handler.wfile.write(BODY[:nbytes])
        handler.wfile.flush()
        handler.close_connection = True

    return respond


def chunked_drop(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b"1000\r\n" + b"x" * 100)
    handler.wfile.flush()
    handler.close_connection = True


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(1.0)
    ok()(handler)


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, list[Behaviour]] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Authorization")))
                behaviours = server.routes.get(self.path) or [status(404)]
                behaviour = behaviours.pop(0) if len(behaviours) > 1 else behaviours[0]
                behaviour(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def fetch(url: str, dest: Path, log: Log, sha: str = BODY_SHA, **kwargs: float) -> Path:
    return download(url, dest, sha, log, retry_delay=0.01, timeout=5.0, **kwargs)  # type: ignore[arg-type]


# --- download ---------------------------------------------------------------------------------


def test_download_success(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/a.tar.gz"] = [ok()]
    dest = tmp_path / "dl" / "python.tar.gz"
    assert fetch(f"{server.base}/a.tar.gz", dest, log) == dest
    assert dest.read_bytes() == BODY
    assert [p.name for p in dest.parent.iterdir()] == ["python.tar.gz"]


def test_checksum_is_case_insensitive(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/a"] = [ok()]
    fetch(f"{server.base}/a", tmp_path / "a", log, sha=BODY_SHA.upper())
    assert (tmp_path / "a").exists()


@pytest.mark.parametrize("code", [404, 403])
def test_missing_archive_is_not_retried(
    server: Server, tmp_path: Path, log: Log, log_output: io.StringIO, code: int
) -> None:
    server.routes["/gone"] = [status(code)]
    with pytest.raises(ArchiveNotFound) as info:
        fetch(f"{server.base}/gone", tmp_path / "a", log)
    assert f"{server.base}/gone" in info.value.render()
    assert f"HTTP {code}" in info.value.render()
    assert server.count("/gone") == 1
    assert "retrying" not in log_output.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_checksum_mismatch(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/a"] = [ok(b"something else")]
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatch) as info:
        fetch(f"{server.base}/a", tmp_path / "a", log)
    message = info.value.render()
    assert f"expected sha256: {BODY_SHA}" in message
    assert f"actual sha256:   {wrong}" in message
    assert f"{server.base}/a" in message
    assert list(tmp_path.iterdir()) == []  # no partial or wrong file left behind


def test_dropped_connection_is_retried(
    server: Server, tmp_path: Path, log: Log, log_output: io.StringIO
) -> None:
    server.routes["/a"] = [drop_after(1000), ok()]
    dest = fetch(f"{server.base}/a", tmp_path / "a", log)
    assert dest.read_bytes() == BODY
    assert server.count("/a") == 2
    logged = log_output.getvalue()
    assert "Download failed (the connection closed after 1000 of" in logged
    assert "retrying in 0.01s (attempt 2 of 3)" in logged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_dropped_chunked_connection_is_retried(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/a"] = [chunked_drop, ok()]
    assert fetch(f"{server.base}/a", tmp_path / "a", log).read_bytes() == BODY


def test_server_errors_are_retried_with_backoff(
    server: Server, tmp_path: Path, log: Log, log_output: io.StringIO
) -> None:
    server.routes["/a"] = [status(503), status(500), ok()]
    delays: list[float] = []
    download(
        f"{server.base}/a", tmp_path / "a", BODY_SHA, log, retry_delay=0.5, sleep=delays.append
    )
    assert delays == [0.5, 1.0]
    logged = log_output.getvalue()
    assert "Download failed (HTTP 503 Service Unavailable), retrying in 0.5s (attempt 2 of 3)" in (
        logged
    )
    assert "retrying in 1s (attempt 3 of 3)" in logged


def test_retries_exhausted(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/a"] = [status(502)]
    with pytest.raises(DownloadFailed) as info:
        fetch(f"{server.base}/a", tmp_path / "a", log, attempts=4)
    assert server.count("/a") == 4
    assert "after 4 attempts: HTTP 502" in info.value.render()
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_is_retried(tmp_path: Path, log: Log, log_output: io.StringIO) -> None:
    # A port that was just free: nothing listens there.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    with pytest.raises(DownloadFailed) as info:
        fetch(f"http://127.0.0.1:{port}/a", tmp_path / "a", log, attempts=2)
    assert "Connection refused" in info.value.render()
    assert "(attempt 2 of 2)" in log_output.getvalue()


def test_timeout(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/slow"] = [slow]
    with pytest.raises(DownloadFailed) as info:
        download(f"{server.base}/slow", tmp_path / "a", BODY_SHA, log, attempts=1, timeout=0.2)
    assert "timed out" in info.value.render()


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """Promise the body, then send a byte every 50 ms: never a read timeout, never done."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(BODY)))
    handler.end_headers()
    with contextlib.suppress(OSError):
        for _ in range(200):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)


def slow_headers(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(3)
    with contextlib.suppress(OSError):  # the client gave up long ago
        ok()(handler)


@pytest.mark.parametrize("behaviour", [trickle, slow_headers])
def test_an_attempt_ends_at_the_deadline(
    server: Server, tmp_path: Path, log: Log, behaviour: Behaviour
) -> None:
    server.routes["/t"] = [behaviour]
    start = time.monotonic()
    with pytest.raises(DownloadFailed) as info:
        download(f"{server.base}/t", tmp_path / "a", BODY_SHA, log, attempts=1, deadline=0.5)
    assert time.monotonic() - start < 2.5
    assert "took longer than 0.5s" in info.value.render()
    assert not list(tmp_path.iterdir()), "a partial download was left behind"


def test_the_deadline_holds_outside_the_main_thread(
    server: Server, tmp_path: Path, log: Log
) -> None:
    # No timer signal there: the deadline is checked between reads instead.
    server.routes["/t"] = [trickle]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            download(f"{server.base}/t", tmp_path / "a", BODY_SHA, log, attempts=1, deadline=0.5)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert isinstance(errors[0], DownloadFailed)


def test_credentials_become_basic_auth_and_are_redacted(
    server: Server, tmp_path: Path, log: Log
) -> None:
    server.routes["/a"] = [ok()]
    url = server.base.replace("http://", "http://user:p%40ss@") + "/a"
    fetch(url, tmp_path / "a", log)
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert server.requests == [("/a", expected)]

    server.routes["/missing"] = [status(404)]
    with pytest.raises(ArchiveNotFound) as info:
        fetch(url.replace("/a", "/missing"), tmp_path / "b", log)
    message = info.value.render()
    assert "p%40ss" not in message and "p@ss" not in message
    assert "http://user:***@127.0.0.1:" in message


def test_redact_url() -> None:
    assert (
        redact_url("https://u:secret@mirror.example/x.tgz") == "https://u:***@mirror.example/x.tgz"
    )
    assert redact_url("https://token@mirror.example/x") == "https://***@mirror.example/x"
    assert redact_url("https://mirror.example/a@b") == "https://mirror.example/a@b"


def test_file_url(tmp_path: Path, log: Log) -> None:
    source = tmp_path / "mirror dir" / "cpython-3.13.5+2025.tar.gz"
    source.parent.mkdir()
    source.write_bytes(BODY)
    url = "file://" + str(source).replace(" ", "%20").replace("+", "%2B")
    dest = tmp_path / "out" / "python.tar.gz"
    assert fetch(url, dest, log).read_bytes() == BODY


def test_file_url_missing_and_mismatch(tmp_path: Path, log: Log) -> None:
    with pytest.raises(ArchiveNotFound) as info:
        fetch(f"file://{tmp_path}/nope.tgz", tmp_path / "out", log)
    assert "nope.tgz" in info.value.render()
    (tmp_path / "bad.tgz").write_bytes(b"bad")
    with pytest.raises(ChecksumMismatch):
        fetch(f"file://{tmp_path}/bad.tgz", tmp_path / "dl" / "out", log)
    assert list((tmp_path / "dl").iterdir()) == []


def test_unsupported_scheme(tmp_path: Path, log: Log) -> None:
    with pytest.raises(DownloadFailed, match="Unable to download Python"):
        fetch("ftp://example.com/a.tgz", tmp_path / "a", log)


def test_a_file_url_to_a_named_pipe_fails_at_once(tmp_path: Path, log: Log) -> None:
    os.mkfifo(tmp_path / "archive.tar.gz")
    with pytest.raises(ArchiveNotFound, match="not a regular file"):
        download((tmp_path / "archive.tar.gz").as_uri(), tmp_path / "out", BODY_SHA, log)
