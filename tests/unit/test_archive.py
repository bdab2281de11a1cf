"""Unpacking (`archive.extract_tar`): formats, safety checks, the size cap."""

from __future__ import annotations

import gzip
import io
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal, cast

import pytest

from python_buildpack import archive as archive_module
from python_buildpack.archive import extract_tar, sha256_file, write_tar_gz
from python_buildpack.errors import ArchiveCorrupt, ArchiveTooLarge, UnsafeArchive, ZstdUnavailable

# More than one read chunk of the extractor.
BODY = b"python archive bytes " * 50_000


def add_file(tar: tarfile.TarFile, name: str, data: bytes = b"x", mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def add_special(tar: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755
    tar.addfile(info)


def make_tar(
    path: Path,
    build: Callable[[tarfile.TarFile], None],
    mode: Literal["w:gz", "w:xz", "w:bz2", "w"] = "w:gz",
) -> Path:
    with tarfile.open(path, mode) as tar:
        build(tar)
    return path


def python_tree(tar: tarfile.TarFile) -> None:
    add_special(tar, "python/", tarfile.DIRTYPE)
    add_special(tar, "python/bin", tarfile.DIRTYPE)
    add_file(tar, "python/bin/python3.13", b"#!elf", mode=0o755)
    add_special(tar, "python/bin/python3", tarfile.SYMTYPE, "python3.13")
    add_special(tar, "python/bin/python", tarfile.SYMTYPE, "./python3")
    add_file(tar, "python/lib/python3.13/os.py", b"import sys\n")  # no directory entry
    add_special(tar, "python/lib/libpython3.13.so", tarfile.LNKTYPE, "python/bin/python3.13")
    add_file(tar, "./python/include/Python.h", b"/* header */", mode=0o4755)


def assert_python_tree(dest: Path) -> None:
    assert (dest / "bin" / "python3.13").read_bytes() == b"#!elf"
    assert (dest / "bin" / "python3").readlink() == Path("python3.13")
    assert (dest / "bin" / "python").resolve() == (dest / "bin" / "python3.13").resolve()
    assert (dest / "lib" / "python3.13" / "os.py").read_text() == "import sys\n"
    assert (dest / "lib" / "libpython3.13.so").stat().st_ino == (
        dest / "bin" / "python3.13"
    ).stat().st_ino
    assert (dest / "bin" / "python3.13").stat().st_mode & 0o777 == 0o755
    assert (dest / "include" / "Python.h").stat().st_mode & 0o7777 == 0o755  # setuid dropped
    assert int((dest / "lib" / "python3.13" / "os.py").stat().st_mtime) == 1_700_000_000
    assert not (dest / "python").exists()


@pytest.mark.parametrize("name", ["python.tar.gz", "python.tgz", "no-suffix"])
def test_extract_gzip_strips_top(tmp_path: Path, name: str) -> None:
    archive = make_tar(tmp_path / name, python_tree)
    dest = tmp_path / "layer"
    extract_tar(archive, dest)
    assert_python_tree(dest)


# Every compression the `tarfile` stream tells from its first bytes: xz's magic (6 bytes) is
# longer than the 4 the format check reads first, and once broke every .tar.xz (a CPython
# source release among them).
@pytest.mark.parametrize("mode", ["w:xz", "w:bz2", "w"])
@pytest.mark.parametrize("given", ["file", "stream"])
def test_extract_other_compressions(
    tmp_path: Path, mode: Literal["w:xz", "w:bz2", "w"], given: str
) -> None:
    archive = make_tar(tmp_path / "python.tar", python_tree, mode)
    dest = tmp_path / "layer"
    if given == "file":
        extract_tar(archive, dest)
    else:
        extract_tar(cast(IO[bytes], Trickle(archive.read_bytes(), "python")), dest)
    assert_python_tree(dest)


def test_extract_without_strip(tmp_path: Path) -> None:
    def tree(tar: tarfile.TarFile) -> None:
        add_file(tar, "./bin/python3", b"elf")
        add_file(tar, "lib/x.py")

    dest = tmp_path / "layer"
    extract_tar(make_tar(tmp_path / "a.tar.gz", tree), dest, strip_top=None)
    assert (dest / "bin" / "python3").read_bytes() == b"elf"
    assert (dest / "lib" / "x.py").exists()


def test_extract_zstd_with_command(tmp_path: Path) -> None:
    assert shutil.which("zstd"), "the zstd command is part of the system dependencies"
    plain = make_tar(tmp_path / "python.tar", python_tree, mode="w")
    subprocess.run(
        ["zstd", "-q", "--long", str(plain), "-o", str(tmp_path / "python.tar.zst")], check=True
    )
    dest = tmp_path / "layer"
    extract_tar(tmp_path / "python.tar.zst", dest)
    assert_python_tree(dest)


def test_extract_zstd_with_python_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the command, a zstandard-compatible module is used (here a stand-in)."""
    plain = make_tar(tmp_path / "python.tar", python_tree, mode="w")
    compressed = tmp_path / "python.tar.zst"
    subprocess.run(["zstd", "-q", str(plain), "-o", str(compressed)], check=True)
    calls: list[int] = []

    class Decompressor:
        def __init__(self, max_window_size: int) -> None:
            calls.append(max_window_size)

        def stream_reader(self, raw: io.BufferedReader) -> io.BytesIO:
            data = subprocess.run(["zstd", "-d", "-c"], input=raw.read(), capture_output=True)
            return io.BytesIO(data.stdout)

    fake = types.ModuleType("zstandard")
    fake.ZstdDecompressor = Decompressor  # type: ignore[attr-defined]
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    monkeypatch.setitem(sys.modules, "zstandard", fake)
    dest = tmp_path / "layer"
    extract_tar(compressed, dest)
    assert_python_tree(dest)
    assert calls == [2**31]


def test_zstd_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = make_tar(tmp_path / "python.tar", python_tree, mode="w")
    compressed = tmp_path / "python.tar.zst"
    subprocess.run(["zstd", "-q", str(plain), "-o", str(compressed)], check=True)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "compression.zstd", None)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(ZstdUnavailable) as info:
        extract_tar(compressed, tmp_path / "layer")
    assert "Install zstd" in info.value.render()


def test_corrupt_zstd(tmp_path: Path) -> None:
    bad = tmp_path / "python.tar.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
    with pytest.raises(ArchiveCorrupt):
        extract_tar(bad, tmp_path / "layer")


def test_corrupt_and_truncated_gzip(tmp_path: Path) -> None:
    bad = tmp_path / "a.tar.gz"
    bad.write_bytes(b"not an archive at all")
    with pytest.raises(ArchiveCorrupt):
        extract_tar(bad, tmp_path / "layer")
    good = make_tar(tmp_path / "b.tar.gz", lambda tar: add_file(tar, "python/big", BODY))
    truncated = tmp_path / "c.tar.gz"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ArchiveCorrupt):
        extract_tar(truncated, tmp_path / "layer2")


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda tar: add_file(tar, "python/../../evil"), "'..' path component"),
        (lambda tar: add_file(tar, "../evil"), "'..' path component"),
        (lambda tar: add_file(tar, "/etc/evil"), "absolute path"),
        (
            lambda tar: add_special(tar, "python/bin/sh", tarfile.SYMTYPE, "/bin/sh"),
            "symbolic link to an absolute path",
        ),
        (
            lambda tar: add_special(tar, "python/lib/up", tarfile.SYMTYPE, "../../.."),
            "symbolic link that leads outside",
        ),
        (
            lambda tar: add_special(tar, "python/x", tarfile.LNKTYPE, "../etc/passwd"),
            "'..' path component",
        ),
        (
            lambda tar: add_special(tar, "python/x", tarfile.LNKTYPE, "/etc/passwd"),
            "hard link to an absolute path (/etc/passwd)",
        ),
        (lambda tar: add_special(tar, "python/dev", tarfile.CHRTYPE), "device file"),
        (lambda tar: add_special(tar, "python/blk", tarfile.BLKTYPE), "device file"),
        (lambda tar: add_special(tar, "python/fifo", tarfile.FIFOTYPE), "named pipe"),
    ],
)
def test_unsafe_members_are_rejected(
    tmp_path: Path, build: Callable[[tarfile.TarFile], None], reason: str
) -> None:
    archive = make_tar(tmp_path / "evil.tar.gz", build)
    dest = tmp_path / "a" / "layer"
    with pytest.raises(UnsafeArchive) as info:
        extract_tar(archive, dest)
    assert reason in info.value.render()
    assert not (tmp_path / "evil").exists() and not (tmp_path / "a" / "evil").exists()


def test_writing_through_an_escaping_symlink_is_impossible(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()

    def build(tar: tarfile.TarFile) -> None:
        # Each link looks harmless on its own; together they lead to dest's parent.
        add_special(tar, "python/a", tarfile.SYMTYPE, "b/..")
        add_special(tar, "python/b", tarfile.SYMTYPE, ".")
        add_file(tar, "python/a/outside/pwned", b"!")

    dest = tmp_path / "layer"
    with pytest.raises(UnsafeArchive):
        extract_tar(make_tar(tmp_path / "evil.tar.gz", build), dest)
    assert list(outside.iterdir()) == []


def test_chained_symlinks_escaping_are_caught_at_the_end(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_special(tar, "python/a", tarfile.SYMTYPE, "b/..")
        add_special(tar, "python/b", tarfile.SYMTYPE, ".")

    with pytest.raises(UnsafeArchive) as info:
        extract_tar(make_tar(tmp_path / "evil.tar.gz", build), tmp_path / "layer")
    assert "python/a" in info.value.render()


def test_members_outside_the_top_directory(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "a.tar.gz", lambda tar: add_file(tar, "other/file"))
    with pytest.raises(ArchiveCorrupt) as info:
        extract_tar(archive, tmp_path / "layer")
    assert "under 'python/'" in info.value.render()


def test_existing_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep")
    dest = tmp_path / "layer"
    dest.mkdir()
    (dest / "f").symlink_to(target)
    extract_tar(
        make_tar(tmp_path / "a.tar.gz", lambda tar: add_file(tar, "python/f", b"new")), dest
    )
    assert target.read_text() == "keep"
    assert not (dest / "f").is_symlink()
    assert (dest / "f").read_bytes() == b"new"


def test_unpacking_stops_at_the_size_cap(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        python_tree(tar)
        add_file(tar, "python/lib/big", b"\0" * 300_000)

    archive = make_tar(tmp_path / "a.tar.gz", build)
    with pytest.raises(ArchiveTooLarge, match="too much data"):
        extract_tar(archive, tmp_path / "layer", max_unpacked_bytes=200_000)
    extract_tar(archive, tmp_path / "layer2", max_unpacked_bytes=400_000)


def test_a_header_understating_its_size_cannot_pass_the_cap(tmp_path: Path) -> None:
    # The count is of bytes written, so a lying header only moves where unpacking stops.
    def build(tar: tarfile.TarFile) -> None:
        python_tree(tar)
        for n in range(5):
            add_file(tar, f"python/lib/part{n}", b"\0" * 100_000)

    archive = make_tar(tmp_path / "a.tar.gz", build)
    with pytest.raises(ArchiveTooLarge):
        extract_tar(archive, tmp_path / "layer", max_unpacked_bytes=350_000)
    written = sum(p.stat().st_size for p in (tmp_path / "layer").rglob("*") if p.is_file())
    assert written <= 350_000


class RecordingStream:
    """A download-like stream: records which thread reads it, can fail after some bytes."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._source = io.BytesIO(data)
        self.name = "https://mirror.example/python.tar.gz"
        self.readers: set[int] = set()
        self.read_bytes = 0
        self._fail_after = fail_after

    def read(self, size: int = -1) -> bytes:
        self.readers.add(threading.get_ident())
        if self._fail_after is not None and self.read_bytes >= self._fail_after:
            raise StreamFailed("connection reset")
        chunk = self._source.read(size)
        self.read_bytes += len(chunk)
        return chunk


class StreamFailed(Exception):
    """Stands in for a download's retryable error: not an archive problem."""


def gzip_tar(build: Callable[[tarfile.TarFile], None]) -> bytes:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=cast(IO[bytes], gz), mode="w") as tar,
    ):
        build(tar)
    return raw.getvalue()


def unpack_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "unpack-archive"]


def test_a_gzip_stream_is_read_by_the_calling_thread_only(tmp_path: Path) -> None:
    # The download's deadline signal and its caller's final read happen in this thread.
    def build(tar: tarfile.TarFile) -> None:
        python_tree(tar)
        add_file(tar, "python/lib/data", random.randbytes(3_000_000))

    stream = RecordingStream(gzip_tar(build))
    extract_tar(cast(IO[bytes], stream), tmp_path / "layer")
    assert_python_tree(tmp_path / "layer")
    assert stream.readers == {threading.get_ident()}
    assert unpack_threads() == []


def test_a_failing_stream_stops_the_unpacking_thread(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        python_tree(tar)
        add_file(tar, "python/lib/data", random.randbytes(4_000_000))

    stream = RecordingStream(gzip_tar(build), fail_after=1_500_000)
    # Raised as it is, for the download to retry, not taken for a corrupt archive.
    with pytest.raises(StreamFailed):
        extract_tar(cast(IO[bytes], stream), tmp_path / "layer")
    assert unpack_threads() == []


def test_an_unpacking_failure_stops_the_reading(tmp_path: Path) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "python/../../evil")
        add_file(tar, "python/lib/data", random.randbytes(32_000_000))

    data = gzip_tar(build)
    stream = RecordingStream(data)
    with pytest.raises(UnsafeArchive):
        extract_tar(cast(IO[bytes], stream), tmp_path / "layer")
    # The inflating side stops at the unpacker's error instead of reading on to the end.
    assert stream.read_bytes < len(data) // 2
    assert unpack_threads() == []


def test_a_gzip_bomb_is_stopped_without_inflating_it_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "python/zeros", b"\0" * 200_000_000)

    sent: list[int] = []
    send = archive_module._Pipe.send

    def counting_send(self: archive_module._Pipe, chunk: bytes) -> bool:
        sent.append(len(chunk))
        return send(self, chunk)

    monkeypatch.setattr(archive_module._Pipe, "send", counting_send)
    data = gzip_tar(build)  # under 1 MB: a single read
    with pytest.raises(ArchiveTooLarge):
        extract_tar(io.BytesIO(data), tmp_path / "layer", max_unpacked_bytes=10_000_000)
    # Inflated a bounded piece at a time, and no further than the cap and the pipe's depth.
    assert max(sent) <= 1024 * 1024
    assert sum(sent) < 30_000_000
    assert unpack_threads() == []


def test_a_gzip_stream_ending_early_is_corrupt(tmp_path: Path) -> None:
    data = gzip_tar(lambda tar: add_file(tar, "python/big", BODY))
    with pytest.raises(ArchiveCorrupt, match="ends in the middle"):
        extract_tar(cast(IO[bytes], RecordingStream(data[: len(data) - 10])), tmp_path / "a")
    assert unpack_threads() == []


class Interrupted(Exception):
    """Stands in for the download deadline's exception, raised by its timer signal."""


def test_the_unpacker_is_waited_for_even_when_a_signal_interrupts() -> None:
    closed: list[bytes | None] = []
    release = threading.Event()

    class Pipe:
        def close(self, last: bytes | None) -> None:
            closed.append(last)
            if len(closed) == 1:
                raise Interrupted()
            release.set()

    unpacker = threading.Thread(target=release.wait, daemon=True)
    unpacker.start()
    with pytest.raises(Interrupted):
        archive_module._finish(cast(archive_module._Pipe, Pipe()), unpacker, archive_module._END)
    # Told to stop (an abort after the interruption) and waited for before the error is raised.
    assert closed == [b"", None]
    assert not unpacker.is_alive()


# --- writing ----------------------------------------------------------------------------------


def test_written_archives_unpack_to_the_same_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "tool").write_text("#!/bin/sh\n")
    (tree / "bin" / "tool").chmod(0o700)
    (tree / "bin" / "alias").symlink_to("tool")
    (tree / "data.txt").write_text("data")
    with_top = write_tar_gz(tree, tmp_path / "top.tar.gz", top="python", mtime=1)
    without = write_tar_gz(tree, tmp_path / "flat.tar.gz", top=None, mtime=1)
    assert with_top == sha256_file(tmp_path / "top.tar.gz") != without
    with tarfile.open(tmp_path / "flat.tar.gz") as tar:
        assert tar.getnames() == ["bin", "bin/alias", "bin/tool", "data.txt"]
    with tarfile.open(tmp_path / "top.tar.gz") as tar:
        assert tar.getnames() == [
            "python",
            "python/bin",
            "python/bin/alias",
            "python/bin/tool",
            "python/data.txt",
        ]
    for archive, strip_top in (("top.tar.gz", "python"), ("flat.tar.gz", None)):
        dest = tmp_path / f"out-{archive}"
        extract_tar(tmp_path / archive, dest, strip_top=strip_top)
        assert (dest / "bin" / "alias").readlink() == Path("tool")
        assert (dest / "bin" / "tool").stat().st_mode & 0o777 == 0o755  # normalised
        assert (dest / "data.txt").read_text() == "data"
        assert (dest / "data.txt").stat().st_mtime == 1


def test_an_interrupted_write_leaves_no_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a").write_text("a")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive_module, "write_tar", fail)
    with pytest.raises(OSError, match="No space"):
        write_tar_gz(tree, tmp_path / "out.tar.gz", top=None, mtime=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree"]


class Trickle:
    """A network-like stream: a few bytes per read, and no seek."""

    def __init__(self, data: bytes, name: str) -> None:
        self._data = data
        self._pos = 0
        self.name = name

    def read(self, size: int = -1) -> bytes:
        size = 3 if size < 0 else min(size, 3)
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_extract_from_a_stream(
    tmp_path: Path, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download is unpacked as it arrives; a zstd one is spooled for the `zstd` command."""
    plain = make_tar(tmp_path / "python.tar", python_tree, mode="w")
    if compression == "gz":
        data = make_tar(tmp_path / "python.tar.gz", python_tree).read_bytes()
    else:
        data = subprocess.run(
            ["zstd", "-q", "-c", str(plain)], check=True, capture_output=True
        ).stdout
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    dest = tmp_path / "layer"
    extract_tar(cast(IO[bytes], Trickle(data, "https://mirror.example/p")), dest)
    assert_python_tree(dest)
    assert list(spool.iterdir()) == []  # the zstd spool is gone


def test_a_stream_is_named_by_its_name_in_errors(tmp_path: Path) -> None:
    data = make_tar(
        tmp_path / "a.tar.gz", lambda tar: add_special(tar, "python/x", tarfile.CHRTYPE)
    ).read_bytes()
    with pytest.raises(UnsafeArchive) as info:
        extract_tar(cast(IO[bytes], Trickle(data, "https://mirror.example/p")), tmp_path / "l")
    assert "The archive https://mirror.example/p contains" in info.value.render()


def test_a_link_replaced_mid_archive_is_followed_anew(tmp_path: Path) -> None:
    """The real path of a member's directory is remembered between members, but not across a
    link being made or replaced: a later member goes where the link leads now, and a link that
    leads outside is still refused."""

    def tree(tar: tarfile.TarFile) -> None:
        add_special(tar, "python/d1", tarfile.DIRTYPE)
        add_special(tar, "python/d2", tarfile.DIRTYPE)
        add_special(tar, "python/l", tarfile.SYMTYPE, "d1")
        add_file(tar, "python/l/x", b"x")
        add_special(tar, "python/l", tarfile.SYMTYPE, "d2")
        add_file(tar, "python/l/y", b"y")

    dest = tmp_path / "layer"
    extract_tar(make_tar(tmp_path / "a.tar.gz", tree), dest)
    assert (dest / "d1" / "x").read_bytes() == b"x"
    assert (dest / "d2" / "y").read_bytes() == b"y"
    assert not (dest / "d1" / "y").exists()

    outside = tmp_path / "outside"
    outside.mkdir()

    def evil(tar: tarfile.TarFile) -> None:
        add_special(tar, "python/d1", tarfile.DIRTYPE)
        add_special(tar, "python/d1/up", tarfile.DIRTYPE)
        add_special(tar, "python/l", tarfile.SYMTYPE, "d1/up")
        add_file(tar, "python/l/x", b"x")
        # Inside by its own text, outside once `l` is followed: up/.. is d1, d1/../.. is out.
        add_special(tar, "python/d1/up", tarfile.SYMTYPE, "..")

    with pytest.raises((UnsafeArchive, ArchiveCorrupt)):
        extract_tar(make_tar(tmp_path / "evil.tar.gz", evil), tmp_path / "layer2")
    assert list(outside.iterdir()) == []
