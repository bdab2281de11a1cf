"""Fetching an archive with retries, a deadline and a checksum (unpacking it: `archive`).

`download` streams to a temporary file beside the destination while hashing and renames it into
place only once the sha256 matches, so a failed or interrupted download never leaves a file that
looks complete. Transient failures (connection errors, dropped connections, HTTP 5xx/429/408) are
retried with exponential backoff; a missing archive (404/403/410/401) and a checksum mismatch are
not, since trying again cannot change them.
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
from typing import BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import ArchiveNotFound, ChecksumMismatch, DownloadFailed, FilesystemError
from .output import Log
from .redact import redact_urls

_CHUNK = 1024 * 1024
# BP_PYTHON_DOWNLOAD_TIMEOUT's default: ten times what a 60 MB archive needs at 1 Mbit/s.
DEFAULT_DEADLINE = 900.0
_NOT_FOUND_STATUSES = frozenset({401, 403, 404, 410})
_RETRY_STATUSES = frozenset({408, 429})
USER_AGENT = "python-buildpack"


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
    """Download `url` to `dest`, verifying its sha256; returns `dest`.

    `timeout` bounds each read, `deadline` a whole attempt: a mirror that trickles a byte every
    few seconds never trips the first, and would otherwise hold the build for days."""
    shown = redact_url(url)
    expected = sha256.lower()
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise DownloadFailed(shown, f"unsupported URL scheme {scheme!r}", 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        with _temp_file(dest) as (tmp_path, out):
            try:
                if scheme == "file":
                    actual = _copy_local(url, shown, out)
                else:
                    with _deadline(deadline) as check_deadline:
                        actual = _fetch_http(url, shown, out, timeout, check_deadline)
            except _Retryable as e:
                if attempt == attempts:
                    raise DownloadFailed(shown, e.reason, attempts) from None
                delay = retry_delay * 2 ** (attempt - 1)
                log.info(
                    f"Download failed ({e.reason}), retrying in {_format_delay(delay)} "
                    f"(attempt {attempt + 1} of {attempts})"
                )
                sleep(delay)
                continue
            out.close()
            if actual != expected:
                raise ChecksumMismatch(shown, expected, actual)
            tmp_path.replace(dest)
            return dest
    raise AssertionError("unreachable: the last attempt returns or raises")


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


def _copy_local(url: str, shown: str, out: BinaryIO) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise DownloadFailed(
            shown, f"file:// URLs on another host ({parts.netloc}) are not supported", 1
        )
    path = Path(urllib.request.url2pathname(parts.path))
    digest = hashlib.sha256()
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
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            _write(out, chunk)
    return digest.hexdigest()


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


def _fetch_http(
    url: str, shown: str, out: BinaryIO, timeout: float, check_deadline: Callable[[], None]
) -> str:
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

    digest = hashlib.sha256()
    received = 0
    with response:
        length_header = response.headers.get("Content-Length")
        expected_length = int(length_header) if length_header and length_header.isdigit() else None
        while True:
            check_deadline()
            try:
                # read1: what has arrived, so the deadline is checked between small reads too.
                chunk = response.read1(_CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise _Retryable(_describe(e)) from None
            if not chunk:
                break
            received += len(chunk)
            digest.update(chunk)
            _write(out, chunk)
    # http.client returns a short body without complaint when the server closes early.
    if expected_length is not None and received != expected_length:
        raise _Retryable(f"the connection closed after {received} of {expected_length} bytes")
    return digest.hexdigest()


def _describe(error: BaseException) -> str:
    if isinstance(error, http.client.IncompleteRead):
        return f"the connection closed early ({len(error.partial)} bytes read)"
    if isinstance(error, TimeoutError):
        return "timed out"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
