"""Fetching an archive with retries and a checksum, and unpacking it safely.

`download` streams to a temporary file beside the destination while hashing and renames it into
place only once the sha256 matches, so a failed or interrupted download never leaves a file that
looks complete. Transient failures (connection errors, dropped connections, HTTP 5xx/429/408) are
retried with exponential backoff; a missing archive (404/403/410/401) and a checksum mismatch are
not, since trying again cannot change them.

`extract_tar` unpacks with its own checks rather than trusting member names: no absolute paths,
no `..`, no device files, no link that resolves outside the destination, and nothing written
through a symlink that leads outside it. The `data` extraction filter of newer Pythons is not
relied on because the buildpack runs on 3.10+.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import http.client
import importlib
import lzma
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import (
    ArchiveCorrupt,
    ArchiveNotFound,
    ArchiveTooLarge,
    ChecksumMismatch,
    DownloadFailed,
    FilesystemError,
    UnsafeArchive,
    ZstdUnavailable,
)
from .output import Log
from .redact import redact_urls

_CHUNK = 1024 * 1024
# BP_PYTHON_DOWNLOAD_TIMEOUT's default: ten times what a 60 MB archive needs at 1 Mbit/s.
DEFAULT_DEADLINE = 900.0
# Unpacked size allowed when the manifest gives none: CPython unpacks to 100-400 MB.
DEFAULT_MAX_UNPACKED_BYTES = 2 * 1024**3
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
            except _WriteFailed as e:
                raise FilesystemError(
                    "downloading Python", str(tmp_path), _strerror(e.error)
                ) from None
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


# --- extraction -------------------------------------------------------------------------------

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def extract_tar(
    archive: Path,
    dest: Path,
    strip_top: str | None = "python",
    *,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
) -> None:
    """Unpack a .tar.gz/.tgz/.tar.xz/.tar.zst archive into `dest`.

    The compression is read from the file's first bytes, not its name, so archives served under
    any name (a dependency mapping's URL, say) unpack alike. With `strip_top`, every member must
    live under that top directory, whose contents land directly in `dest`.
    Unpacking stops with `ArchiveTooLarge` once the files add up to more than
    `max_unpacked_bytes` (a small archive can unpack to gigabytes), and a full or read-only disk
    is a `FilesystemError` naming the file being written.
    If this raises, `dest` may hold part of the archive: callers discard it.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with _open_tar_stream(archive) as tar:
            _Extractor(archive, dest, strip_top, max_unpacked_bytes).run(tar)
    except _WriteFailed as e:
        raise FilesystemError("unpacking Python", e.path, _strerror(e.error)) from None


@contextlib.contextmanager
def _open_tar_stream(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with archive.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ArchiveCorrupt(str(archive), e.strerror or str(e)) from e
    if magic != _ZSTD_MAGIC:
        try:
            # Opened outside `with` so that open errors become ArchiveCorrupt.
            tar = tarfile.open(archive, mode="r|*")  # noqa: SIM115
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as e:
            raise ArchiveCorrupt(str(archive), f"not a readable tar archive ({e})") from e
        with tar:
            yield tar
        return
    with _zstd_reader(archive) as stream:
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115
        except (tarfile.TarError, EOFError) as e:
            raise ArchiveCorrupt(str(archive), f"not a readable tar archive ({e})") from e
        with tar:
            yield tar


@contextlib.contextmanager
def _zstd_reader(archive: Path) -> Iterator[IO[bytes]]:
    """A decompressed stream of a zstd file: the `zstd` command, else a Python zstd module."""
    command = shutil.which("zstd")
    if command:
        # --long=31 allows archives compressed with a large window (`zstd --long`).
        process = subprocess.Popen(
            [command, "-d", "-c", "-q", "--long=31", str(archive)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        try:
            yield process.stdout
            # tar stops at its end marker; let zstd finish so its exit status is meaningful.
            while process.stdout.read(_CHUNK):
                pass
        finally:
            process.stdout.close()
            stderr = process.stderr.read().decode(errors="replace").strip()
            process.stderr.close()
            status = process.wait()
        if status != 0:
            raise ArchiveCorrupt(str(archive), f"zstd failed (exit status {status}): {stderr}")
        return
    module = _zstd_module()
    if module is None:
        raise ZstdUnavailable(str(archive))
    with archive.open("rb") as raw:
        if module.__name__ == "compression.zstd":
            stream = cast(IO[bytes], module.ZstdFile(raw))
        else:
            decompressor = module.ZstdDecompressor(max_window_size=2**31)
            stream = cast(IO[bytes], decompressor.stream_reader(raw))
        with stream:
            yield stream


def _zstd_module() -> Any:
    # compression.zstd is in the standard library from Python 3.14.
    for name in ("compression.zstd", "zstandard"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


class _WriteFailed(Exception):
    """Writing `path` failed: the disk, not the archive (kept apart from read errors)."""

    def __init__(self, path: Path | str, error: OSError) -> None:
        super().__init__(str(path))
        self.path = str(path)
        self.error = error


class _Extractor:
    def __init__(
        self, archive: Path, dest: Path, strip_top: str | None, max_unpacked_bytes: int
    ) -> None:
        self.archive = archive
        self.dest = dest
        self.max_unpacked_bytes = max_unpacked_bytes
        self.unpacked = 0
        self.root = os.path.realpath(dest)
        self.strip_top = strip_top
        self.directories: list[tuple[Path, tarfile.TarInfo]] = []
        self.symlinks: list[tuple[Path, str]] = []

    def _unsafe(self, member: tarfile.TarInfo, reason: str) -> UnsafeArchive:
        return UnsafeArchive(str(self.archive), member.name, reason)

    def _inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root + os.sep)

    def _relative_parts(self, member: tarfile.TarInfo, name: str) -> list[str] | None:
        """The path below `dest` for an archive path, or None for the top directory itself."""
        if name.startswith("/"):
            raise self._unsafe(member, "is an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self._unsafe(member, "has a '..' path component")
        if self.strip_top is not None and parts:
            if parts[0] != self.strip_top:
                raise ArchiveCorrupt(
                    str(self.archive),
                    f"expected every entry under '{self.strip_top}/', found {name!r}",
                )
            parts = parts[1:]
        return parts or None

    def run(self, tar: tarfile.TarFile) -> None:
        members = iter(tar)
        while True:
            try:
                member = next(members)
            except StopIteration:
                break
            except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
                raise ArchiveCorrupt(str(self.archive), _describe(e)) from e
            try:
                self._extract(tar, member)
            except OSError as e:
                raise _WriteFailed(e.filename or self.dest, e) from None
        self._check_symlinks()
        # Directory modes last, so a read-only directory does not block its own contents.
        for path, member in reversed(self.directories):
            path.chmod((member.mode & 0o777) | 0o700)
            os.utime(path, (member.mtime, member.mtime))

    def _extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = self._relative_parts(member, member.name)
        if member.ischr() or member.isblk():
            raise self._unsafe(member, "is a device file")
        if member.isfifo():
            raise self._unsafe(member, "is a named pipe")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise self._unsafe(member, "is a special file")
        if parts is None:
            if not member.isdir():
                raise ArchiveCorrupt(str(self.archive), f"{member.name!r} is not a directory")
            return
        target = self.dest.joinpath(*parts)
        parent = os.path.realpath(target.parent)
        if not self._inside(parent):
            raise self._unsafe(member, "would be written through a link that leads outside")
        Path(parent).mkdir(parents=True, exist_ok=True)
        target = Path(parent) / target.name

        if member.isdir():
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(exist_ok=True)
            self.directories.append((target, member))
            return
        self._clear(target, member)
        if member.issym():
            link = member.linkname
            if link.startswith("/"):
                raise self._unsafe(member, f"is a symbolic link to an absolute path ({link})")
            if not self._inside(os.path.normpath(f"{parent}/{link}")):
                raise self._unsafe(member, f"is a symbolic link that leads outside ({link})")
            target.symlink_to(link)
            self.symlinks.append((target, member.name))
        elif member.islnk():
            if member.linkname.startswith("/"):
                raise self._unsafe(
                    member, f"is a hard link to an absolute path ({member.linkname})"
                )
            source_parts = self._relative_parts(member, member.linkname)
            source = os.path.realpath(self.dest.joinpath(*(source_parts or [])))
            if source_parts is None or not self._inside(source):
                raise self._unsafe(member, f"is a hard link to outside ({member.linkname})")
            if not Path(source).is_file():
                raise ArchiveCorrupt(
                    str(self.archive),
                    f"{member.name!r} links to {member.linkname!r}, which is not an earlier file",
                )
            os.link(source, target)
        else:
            self._write_file(tar, member, target)

    def _clear(self, target: Path, member: tarfile.TarInfo) -> None:
        """Remove what a repeated member name left, never following a symlink."""
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            raise ArchiveCorrupt(
                str(self.archive), f"{member.name!r} replaces a directory with a file"
            )

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
        source = tar.extractfile(member)
        assert source is not None  # regular files always have content
        if self.unpacked + member.size > self.max_unpacked_bytes:
            raise ArchiveTooLarge(str(self.archive), self.max_unpacked_bytes)
        try:
            self._copy_out(source, target)
        except OSError as e:
            # Reading the archive raised ArchiveCorrupt already: this is the disk.
            raise _WriteFailed(target, e) from None
        # setuid/setgid/sticky bits are dropped; the owner can always read and write.
        target.chmod((member.mode & 0o777) | 0o600)
        os.utime(target, (member.mtime, member.mtime))

    def _copy_out(self, source: IO[bytes], target: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(target, flags, 0o600), "wb") as out:
            while True:
                try:
                    chunk = source.read(_CHUNK)
                except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
                    raise ArchiveCorrupt(str(self.archive), _describe(e)) from e
                if not chunk:
                    break
                # Counted as written, not as the header says: the header could lie.
                self.unpacked += len(chunk)
                if self.unpacked > self.max_unpacked_bytes:
                    raise ArchiveTooLarge(str(self.archive), self.max_unpacked_bytes)
                out.write(chunk)

    def _check_symlinks(self) -> None:
        """A link that pointed inside when made can lead outside through a later link."""
        for path, name in self.symlinks:
            if not self._inside(os.path.realpath(path)):
                path.unlink()
                raise UnsafeArchive(
                    str(self.archive), name, "is a symbolic link that leads outside"
                )
