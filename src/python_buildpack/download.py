"""Fetching an archive with retries, a deadline and a checksum (unpacking it: `archive`).

`fetch` streams a response through sha256 into a consumer (the python layer unpacks while it
downloads, with no archive on disk) and returns only once the whole body matched the checksum, so
the consumer's work is trusted only then. `download` is `fetch` into a temporary file beside the
destination, renamed into place once the sha256 matches, so a failed or interrupted download never
leaves a file that looks complete. Transient failures (connection errors, dropped connections,
HTTP 5xx/429/408) are retried with exponential backoff, the consumer starting afresh; a missing
archive (404/403/410/401) and a checksum mismatch are not, since trying again cannot change them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import os
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import (
    ArchiveNotFound,
    ChecksumMismatch,
    DownloadFailed,
    FilesystemError,
    UserError,
)
from .output import Log
from .redact import redact_urls

_CHUNK = 1024 * 1024
_READ_AHEAD = 256 * 1024
# BP_PYTHON_DOWNLOAD_TIMEOUT's default: ten times what a 60 MB archive needs at 1 Mbit/s.
DEFAULT_DEADLINE = 900.0
_NOT_FOUND_STATUSES = frozenset({401, 403, 404, 410})
_RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "python-buildpack"
T = TypeVar("T")


class _Retryable(Exception):
    """A failure that another attempt may not hit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redact_url(url: str) -> str:
    """The URL with its password (or lone token) masked, safe to print."""
    return redact_urls(url)


def _format_delay(seconds: float) -> str:
    return f"{seconds:g}s"


def _check_scheme(url: str, shown: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise DownloadFailed(shown, f"unsupported URL scheme {scheme!r}", 1)
    return scheme


def fetch(
    url: str,
    sha256: str,
    log: Log,
    consume: Callable[[BinaryIO], T],
    *,
    attempts: int = 3,
    timeout: float = 30.0,
    deadline: float = DEFAULT_DEADLINE,
    retry_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Stream `url` through sha256 into `consume`; returns what `consume` returned.

    `consume` reads the body from the stream it is given (whose `name` is the URL, safe to
    print) and is called again on each retry, so it must start afresh each time. Whatever it
    leaves unread is read and hashed after it returns: fetch returns only once the whole body
    matched `sha256`, and raises `ChecksumMismatch` otherwise, so nothing `consume` made may be
    trusted before then. When `consume` fails with a user error (an archive that does not
    unpack, say), the rest is hashed too: a file other than the manifest's is reported as that.

    `timeout` bounds each read, `deadline` a whole attempt, `consume`'s work included: a mirror
    that trickles a byte every few seconds never trips the first, and would otherwise hold the
    build for days."""
    shown = redact_url(url)
    expected = sha256.lower()
    scheme = _check_scheme(url, shown)
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            if scheme == "file":
                with _open_local(url, shown) as source:
                    stream = _HashingStream(shown, source.read, None, _no_deadline)
                    return _consume(stream, consume, expected)
            with _deadline(deadline) as check_deadline, _open_http(url, shown, timeout) as response:
                length = response.headers.get("Content-Length")
                stream = _HashingStream(
                    shown,
                    response.read1,
                    int(length) if length and length.isdigit() else None,
                    check_deadline,
                )
                return _consume(stream, consume, expected)
        except _Retryable as e:
            if attempt == attempts:
                raise DownloadFailed(shown, e.reason, attempts) from None
            delay = retry_delay * 2 ** (attempt - 1)
            log.info(
                f"Download failed ({e.reason}), retrying in {_format_delay(delay)} "
                f"(attempt {attempt + 1} of {attempts})"
            )
            sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


def download(
    url: str,
    dest: Path,
    sha256: str,
    log: Log,
    *,
    attempts: int = 3,
    timeout: float = 30.0,
    deadline: float = DEFAULT_DEADLINE,
    retry_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download `url` to `dest`, verifying its sha256; returns `dest` (see `fetch`)."""
    _check_scheme(url, redact_url(url))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _temp_file(dest) as (tmp_path, out):

        def save(stream: BinaryIO) -> None:
            out.seek(0)
            out.truncate()
            while chunk := stream.read(_CHUNK):
                _write(out, chunk)

        fetch(
            url,
            sha256,
            log,
            save,
            attempts=attempts,
            timeout=timeout,
            deadline=deadline,
            retry_delay=retry_delay,
            sleep=sleep,
        )
        out.close()
        tmp_path.replace(dest)
    return dest


def _consume(stream: _HashingStream, consume: Callable[[BinaryIO], T], expected: str) -> T:
    try:
        result = consume(cast(BinaryIO, stream))
    except UserError:
        stream.drain()
        stream.check(expected)
        raise
    stream.drain()
    stream.check(expected)
    return result


def _no_deadline() -> None:
    pass


class _HashingStream:
    """A response body as a readable file object that hashes what passes through it.

    A read error, or an end before the promised Content-Length (http.client returns a short
    body without complaint when the server closes early), is `_Retryable`."""

    def __init__(
        self,
        name: str,
        read: Callable[[int], bytes],
        expected_length: int | None,
        check_deadline: Callable[[], None],
    ) -> None:
        self.name = name
        self._read = read
        self._expected_length = expected_length
        self._check_deadline = check_deadline
        self._digest = hashlib.sha256()
        self._buffer = b""
        self._pos = 0
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        if self._pos >= len(self._buffer):
            # Read ahead: an unpacker asks for a few KiB at a time, the network gives more.
            self._buffer, self._pos = self._next(max(size, _READ_AHEAD)), 0
        data = self._buffer[self._pos : self._pos + size]
        self._pos += len(data)
        return data

    def _next(self, size: int) -> bytes:
        self._check_deadline()
        try:
            # read1 for a response: what has arrived, so the deadline is checked between small
            # reads too.
            chunk = self._read(size)
        except (OSError, http.client.HTTPException) as e:
            raise _Retryable(_describe(e)) from None
        if chunk:
            self.received += len(chunk)
            self._digest.update(chunk)
        elif self._expected_length not in (None, self.received):
            raise _Retryable(
                f"the connection closed after {self.received} of {self._expected_length} bytes"
            )
        return chunk

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    def check(self, expected: str) -> None:
        actual = self._digest.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(self.name, expected, actual) from None


@contextlib.contextmanager
def _temp_file(dest: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """A temporary file beside `dest`, removed unless it was renamed into place."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    path = Path(name)
    out = os.fdopen(fd, "wb")
    try:
        yield path, out
    finally:
        out.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _open_local(url: str, shown: str) -> Iterator[BinaryIO]:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise DownloadFailed(
            shown, f"file:// URLs on another host ({parts.netloc}) are not supported", 1
        )
    path = Path(urllib.request.url2pathname(parts.path))
    if path.exists() and not path.is_file():
        # A pipe or device would block or never end: only a regular file is an archive.
        raise ArchiveNotFound(shown, f"{path} is not a regular file")
    try:
        source = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ArchiveNotFound(shown, f"there is no file at {path}") from None
    except PermissionError:
        raise ArchiveNotFound(shown, f"permission denied reading {path}") from None
    with source:
        yield source


def _write(out: BinaryIO, chunk: bytes) -> None:
    """Write part of a download; a full disk is the user's to fix, not a retry."""
    try:
        out.write(chunk)
    except OSError as e:
        raise FilesystemError(
            "downloading Python", getattr(out, "name", None), _strerror(e)
        ) from None


def _strerror(error: OSError) -> str:
    return error.strerror or str(error)


def _request(url: str) -> urllib.request.Request:
    """A request for `url`, turning `user:password@` into a Basic auth header.

    urllib does not use credentials in a URL by itself. The header is "unredirected" so a
    redirect to another host (as release downloads often do) does not carry it along.
    """
    parts = urlsplit(url)
    headers = {"User-Agent": USER_AGENT}
    request = urllib.request.Request(url, headers=headers)
    if parts.username is not None:
        host = parts.netloc.rpartition("@")[2]
        request = urllib.request.Request(urlunsplit(parts._replace(netloc=host)), headers=headers)
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(credentials.encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    return request


class _DeadlinePassed(_Retryable):
    """Raised by the timer signal: a `_Retryable` wherever it lands, even on the way out."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[Callable[[], None]]:
    """Within the block, a blocked read ends with `_Retryable` once `seconds` have passed.

    In the main thread a timer signal interrupts even a read stuck in the response headers;
    elsewhere (no signals) the returned check, which raises once the time is up, is called
    between reads.
    """
    end = time.monotonic() + seconds
    reason = f"it took longer than {_format_delay(seconds)}"

    def check() -> None:
        if time.monotonic() >= end:
            raise _DeadlinePassed(reason)

    def on_alarm(signum: int, frame: object) -> None:
        raise _DeadlinePassed(reason)

    if threading.current_thread() is not threading.main_thread():
        yield check
        return
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield check
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _open_http(url: str, shown: str, timeout: float) -> Iterator[http.client.HTTPResponse]:
    try:
        response = urllib.request.urlopen(_request(url), timeout=timeout)
    except urllib.error.HTTPError as e:
        status = f"HTTP {e.code} {e.reason}".rstrip()
        e.close()
        if e.code in _NOT_FOUND_STATUSES:
            raise ArchiveNotFound(shown, status) from None
        if e.code >= 500 or e.code in _RETRY_STATUSES:
            raise _Retryable(status) from None
        raise DownloadFailed(shown, status, 1) from None
    except urllib.error.URLError as e:
        raise _Retryable(str(e.reason)) from None
    except (OSError, http.client.HTTPException) as e:
        raise _Retryable(_describe(e)) from None
    with response:
        yield response


def _describe(error: BaseException) -> str:
    if isinstance(error, http.client.IncompleteRead):
        return f"the connection closed early ({len(error.partial)} bytes read)"
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
