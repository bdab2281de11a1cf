"""A local HTTP file server for tests: a mirror of runtime archives, with fault injection.

    with FileServer(root) as srv:
        srv.url                      # http://127.0.0.1:<random port>
        srv.not_found("/a.tar.gz")   # always 404
        srv.fail_once("/a.tar.gz")   # drop the connection before the headers, once
        srv.fail_once("/b", mid_body=True)  # send headers and half the body, then drop
        srv.slow("/c", seconds=2)    # wait before answering
        ...
        srv.requests                 # every request path, in order
        srv.count("/a.tar.gz")

It listens on 127.0.0.1 only and serves `root` with one thread per connection. With `tls` (an
`ssl.SSLContext` holding the server's certificate) it speaks HTTPS; with `basic_auth=(user,
password)` every request without those credentials gets a 401 (and is recorded with
`authorized=False`), the way a private package index answers.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    authorized: bool = True


@dataclass
class _Faults:
    not_found: set[str] = field(default_factory=set)
    drops: dict[str, tuple[int, bool]] = field(default_factory=dict)  # path -> (times, mid_body)
    delays: dict[str, float] = field(default_factory=dict)


def _normalise(path: str) -> str:
    path = urllib.parse.urlsplit(path).path or "/"
    return path if path.startswith("/") else "/" + path


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; requests are recorded instead

    def end_headers(self) -> None:
        # `path` is unset when the request line itself was malformed.
        path = _normalise(getattr(self, "path", "/"))
        for name, value in self.server.owner._headers_for(path).items():
            self.send_header(name, value)
        super().end_headers()

    def do_GET(self) -> None:
        if self._inject_faults():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._inject_faults():
            super().do_HEAD()

    def _inject_faults(self) -> bool:
        """Apply the faults set for this path; False when the response was handled here."""
        owner = self.server.owner
        path = _normalise(self.path)
        authorized = owner._authorized(self.headers.get("Authorization"))
        owner._record(Request(self.command, path, dict(self.headers.items()), authorized))
        if not authorized:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="index"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        delay, drop, not_found = owner._fault_for(path)
        if delay:
            time.sleep(delay)
        if not_found:
            self.send_error(404, "Not Found (injected)")
            return False
        if drop is None:
            return True
        if drop and self.command == "GET":
            self._send_half_then_drop()
        self._drop()
        return False

    def _send_half_then_drop(self) -> None:
        file = Path(self.translate_path(self.path))
        body = file.read_bytes() if file.is_file() else b"x" * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: uv opens dozens of connections at once, the kernel
    # drops the SYNs beyond the backlog, and each retries after TCP's 1 s timeout. Measured with
    # `uv sync` of the uv_app fixture: "Prepared 9 packages" took 1.05 s in most runs and
    # 0.05 s in the others. A real index (PyPI's CDN) accepts them all at once.
    request_queue_size = 128
    owner: FileServer


class FileServer:
    """Serve `root` on 127.0.0.1 at a random port while the `with` block runs."""

    def __init__(
        self,
        root: Path | str,
        headers: Callable[[str], Mapping[str, str]] | None = None,
        *,
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        """`headers(path)` gives extra response headers for a request path (e.g. Cache-Control);
        `port` 0 is a random free port."""
        self.root = Path(root)
        self._tls = tls
        self._expected_auth = (
            None
            if basic_auth is None
            else "Basic " + base64.b64encode(":".join(basic_auth).encode()).decode()
        )
        self._headers = headers
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._faults = _Faults()
        directory = str(self.root)

        class Handler(_Handler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=directory, **kwargs)

        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.owner = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> FileServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + _normalise(path)

    # --- what was asked

    def _authorized(self, header: str | None) -> bool:
        return self._expected_auth is None or header == self._expected_auth

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[str]:
        """The path of every request so far, in order."""
        with self._lock:
            return [r.path for r in self._requests]

    @property
    def request_log(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str) -> int:
        path = _normalise(path)
        return sum(1 for p in self.requests if p == path)

    def reset(self) -> None:
        """Forget recorded requests and faults."""
        with self._lock:
            self._requests.clear()
            self._faults = _Faults()

    # --- faults

    def not_found(self, path: str) -> None:
        with self._lock:
            self._faults.not_found.add(_normalise(path))

    def fail_once(self, path: str, *, times: int = 1, mid_body: bool = False) -> None:
        """Drop the connection for the next `times` requests of `path`.

        By default the socket closes before any header is sent; with `mid_body` the headers
        promise the whole file and half of it arrives.
        """
        with self._lock:
            self._faults.drops[_normalise(path)] = (times, mid_body)

    def slow(self, path: str, seconds: float) -> None:
        """Wait `seconds` before answering each request of `path`."""
        with self._lock:
            self._faults.delays[_normalise(path)] = seconds

    def _headers_for(self, path: str) -> Mapping[str, str]:
        return self._headers(path) if self._headers is not None else {}

    def _fault_for(self, path: str) -> tuple[float, bool | None, bool]:
        """(delay, drop mode or None, 404) for this request; consumes one drop."""
        with self._lock:
            delay = self._faults.delays.get(path, 0.0)
            drop: bool | None = None
            if path in self._faults.drops:
                times, mid_body = self._faults.drops[path]
                drop = mid_body
                if times <= 1:
                    del self._faults.drops[path]
                else:
                    self._faults.drops[path] = (times - 1, mid_body)
            return delay, drop, path in self._faults.not_found
