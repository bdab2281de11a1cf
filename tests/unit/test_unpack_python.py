"""The python layer's one pass (`layers.python.unpack_python`): `download.fetch` streaming
through sha256 into `archive.extract_tar`, with no archive on disk.

What it unpacked counts only once the whole body matched its sha256, and `dest` is left empty on
every failure; a retry after a partial stream starts from an empty `dest`.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from python_buildpack.download import fetch
from python_buildpack.errors import (
    ArchiveCorrupt,
    ArchiveTooLarge,
    ChecksumMismatch,
    DownloadFailed,
    UnsafeArchive,
)
from python_buildpack.layers.python import unpack_python
from python_buildpack.output import Log

from .test_archive import add_file, add_special
from .test_download import Behaviour, Server, ok, server

__all__ = ["server"]  # a fixture, used by name


def tar_gz(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            add_file(tar, name, data)
        for name, target in (symlinks or {}).items():
            add_special(tar, name, tarfile.SYMTYPE, target)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Incompressible, so a cut in the compressed stream lands after the small files are written.
NOISE = os.urandom(1024 * 1024)
GOOD = tar_gz({"python/bin/python3": b"#!elf", "python/lib/big.bin": NOISE})
# The same names and sizes, but another first file: what a first, cut-off attempt may leave.
STALE = tar_gz({"python/stale.txt": b"from the first attempt", "python/lib/big.bin": NOISE})


def cut_off(body: bytes, promised: int, after: int) -> Behaviour:
    """Promise `promised` bytes, send the first `after` of `body`, then hang up."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(promised))
        handler.end_headers()
        handler.wfile.write(body[:after])
        handler.wfile.flush()
        handler.close_connection = True

    return respond


def unpack(url: str, digest: str, dest: Path, log: Log, **kwargs: float) -> None:
    unpack_python(
        url,
        digest,
        dest,
        log,
        deadline=kwargs.get("deadline", 30.0),
        max_unpacked_bytes=int(kwargs.get("max_unpacked_bytes", 2**30)),
        retry_delay=0.01,
    )


def test_unpacks_while_downloading(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/p.tar.gz"] = [ok(GOOD)]
    dest = tmp_path / "layer"
    dest.mkdir()
    unpack(f"{server.base}/p.tar.gz", sha(GOOD), dest, log)
    assert (dest / "bin" / "python3").read_bytes() == b"#!elf"
    assert (dest / "lib" / "big.bin").read_bytes() == NOISE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer"]  # no archive on disk


def test_a_checksum_mismatch_leaves_the_layer_empty(
    server: Server, tmp_path: Path, log: Log
) -> None:
    # A valid archive, fully unpacked before its hash is known: it must not stay.
    server.routes["/p.tar.gz"] = [ok(GOOD)]
    dest = tmp_path / "layer"
    with pytest.raises(ChecksumMismatch) as info:
        unpack(f"{server.base}/p.tar.gz", sha(b"another archive"), dest, log)
    assert f"actual sha256:   {sha(GOOD)}" in info.value.render()
    assert list(dest.iterdir()) == []
    assert server.count("/p.tar.gz") == 1  # not retried


@pytest.mark.parametrize(
    "body",
    [
        b"<html>a login page, not an archive</html>",
        tar_gz({"python/x": b"x"}, symlinks={"python/evil": "../../etc"}),
    ],
    ids=["not-an-archive", "unsafe"],
)
def test_a_wrong_file_is_a_checksum_mismatch_not_an_unpack_error(
    server: Server, tmp_path: Path, log: Log, body: bytes
) -> None:
    """As before one pass: the wrong file is reported as such, whatever it holds."""
    server.routes["/p.tar.gz"] = [ok(body)]
    dest = tmp_path / "layer"
    with pytest.raises(ChecksumMismatch):
        unpack(f"{server.base}/p.tar.gz", sha(GOOD), dest, log)
    assert list(dest.iterdir()) == []


def test_the_right_but_unsafe_archive_is_refused(server: Server, tmp_path: Path, log: Log) -> None:
    evil = tar_gz({"python/x": b"x"}, symlinks={"python/evil": "../../etc"})
    server.routes["/p.tar.gz"] = [ok(evil)]
    dest = tmp_path / "layer"
    with pytest.raises(UnsafeArchive) as info:
        unpack(f"{server.base}/p.tar.gz", sha(evil), dest, log)
    assert f"{server.base}/p.tar.gz" in info.value.render()  # named by its URL
    assert list(dest.iterdir()) == []


def test_a_cut_off_stream_is_retried_from_an_empty_layer(
    server: Server, tmp_path: Path, log: Log, log_output: io.StringIO
) -> None:
    server.routes["/p.tar.gz"] = [cut_off(STALE, len(GOOD), len(STALE) // 2), ok(GOOD)]
    dest = tmp_path / "layer"
    unpack(f"{server.base}/p.tar.gz", sha(GOOD), dest, log)
    assert server.count("/p.tar.gz") == 2
    assert "the connection closed after" in log_output.getvalue()
    assert not (dest / "stale.txt").exists(), "the first attempt's files were kept"
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == [
        "bin",
        "bin/python3",
        "lib",
        "lib/big.bin",
    ]


def test_the_kept_copy_is_the_whole_download_after_a_retry(
    server: Server, tmp_path: Path, log: Log
) -> None:
    """`keep` (the build cache's copy) holds exactly the body that matched its sha256: the
    cut-off first attempt is not in it, nor is anything missing that the unpacker left unread
    (a gzip stream's end, tar's padding)."""
    from python_buildpack.layers.python_archive import KeptDownload

    padded = GOOD + b"\0" * 4096  # trailing bytes no unpacker reads
    server.routes["/p.tar.gz"] = [cut_off(STALE, len(padded), len(STALE) // 2), ok(padded)]
    kept = KeptDownload(tmp_path / "archive.partial")
    dest = tmp_path / "layer"
    unpack_python(
        f"{server.base}/p.tar.gz", sha(padded), dest, log,
        deadline=30.0, max_unpacked_bytes=2**30, retry_delay=0.01, keep=kept,
    )  # fmt: skip
    kept.close()
    assert server.count("/p.tar.gz") == 2
    assert kept.path.read_bytes() == padded
    assert (dest / "bin" / "python3").read_bytes() == b"#!elf"


def test_retries_exhausted_leave_the_layer_empty(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/p.tar.gz"] = [cut_off(GOOD, len(GOOD), len(GOOD) // 2)]
    dest = tmp_path / "layer"
    with pytest.raises(DownloadFailed, match="Unable to download Python"):
        unpack(f"{server.base}/p.tar.gz", sha(GOOD), dest, log)
    assert server.count("/p.tar.gz") == 3
    assert list(dest.iterdir()) == []


def test_the_deadline_covers_the_whole_attempt(server: Server, tmp_path: Path, log: Log) -> None:
    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(GOOD)))
        handler.end_headers()
        try:
            handler.wfile.write(GOOD[: len(GOOD) // 2])
            for byte in GOOD[len(GOOD) // 2 :]:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass

    server.routes["/p.tar.gz"] = [trickle]
    dest = tmp_path / "layer"
    start = time.monotonic()
    with pytest.raises(DownloadFailed) as info:
        unpack(f"{server.base}/p.tar.gz", sha(GOOD), dest, log, deadline=0.5)
    assert time.monotonic() - start < 5
    assert "took longer than 0.5s" in info.value.render()
    assert list(dest.iterdir()) == []


def test_the_unpacked_size_cap_holds(server: Server, tmp_path: Path, log: Log) -> None:
    server.routes["/p.tar.gz"] = [ok(GOOD)]
    dest = tmp_path / "layer"
    with pytest.raises(ArchiveTooLarge):
        unpack(f"{server.base}/p.tar.gz", sha(GOOD), dest, log, max_unpacked_bytes=512 * 1024)
    assert list(dest.iterdir()) == []


def test_a_file_url(tmp_path: Path, log: Log) -> None:
    """The offline package's bundled archives and file:// mirrors."""
    archive = tmp_path / "bundled" / "cpython 3.13.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(GOOD)
    dest = tmp_path / "layer"
    unpack(archive.as_uri(), sha(GOOD), dest, log)
    assert (dest / "lib" / "big.bin").read_bytes() == NOISE
    with pytest.raises(ChecksumMismatch):
        unpack(archive.as_uri(), sha(b"other"), dest, log)
    assert list(dest.iterdir()) == []


def test_a_truncated_file_is_corrupt_not_retried(tmp_path: Path, log: Log) -> None:
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(GOOD[: len(GOOD) // 2])
    dest = tmp_path / "layer"
    with pytest.raises(ChecksumMismatch):
        unpack(archive.as_uri(), sha(GOOD), dest, log)
    with pytest.raises(ArchiveCorrupt):
        unpack(archive.as_uri(), sha(archive.read_bytes()), dest, log)
    assert list(dest.iterdir()) == []


def test_fetch_reads_what_the_consumer_leaves(server: Server, log: Log) -> None:
    """The hash covers the whole body, not just what the consumer read."""
    server.routes["/p"] = [ok(GOOD)]
    assert fetch(f"{server.base}/p", sha(GOOD), log, lambda stream: stream.read(10)) == GOOD[:10]
    server.routes["/q"] = [ok(GOOD + b"tail")]
    with pytest.raises(ChecksumMismatch):
        fetch(f"{server.base}/q", sha(GOOD), log, lambda stream: stream.read(len(GOOD)))
