"""The test mirror serves files, counts requests and injects the faults it is asked to."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.harness.http_server import FileServer

BODY = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "python.tar.gz").write_bytes(BODY)
    return tmp_path


def get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data: bytes = response.read()
        return data


def test_serves_files_on_loopback_and_records_paths(root: Path) -> None:
    with FileServer(root) as srv:
        assert srv.url.startswith("http://127.0.0.1:") and srv.port > 0
        assert get(srv.url_for("dist/python.tar.gz")) == BODY
        assert get(srv.url + "/dist/python.tar.gz?x=1") == BODY
        with pytest.raises(urllib.error.HTTPError) as info:
            get(srv.url + "/missing")
        assert info.value.code == 404
        assert srv.requests == ["/dist/python.tar.gz", "/dist/python.tar.gz", "/missing"]
        assert srv.count("dist/python.tar.gz") == 2
        assert srv.request_log[0].method == "GET"
        assert "User-Agent" in srv.request_log[0].headers
    # Stopped: the port no longer answers.
    with pytest.raises(urllib.error.URLError):
        get(srv.url + "/dist/python.tar.gz", timeout=1)


def test_not_found_hides_an_existing_file(root: Path) -> None:
    with FileServer(root) as srv:
        srv.not_found("/dist/python.tar.gz")
        for _ in range(2):
            with pytest.raises(urllib.error.HTTPError) as info:
                get(srv.url_for("/dist/python.tar.gz"))
            assert info.value.code == 404
        assert srv.count("/dist/python.tar.gz") == 2


def test_fail_once_drops_the_connection_then_recovers(root: Path) -> None:
    with FileServer(root) as srv:
        srv.fail_once("/dist/python.tar.gz")
        with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError, OSError)):
            get(srv.url_for("/dist/python.tar.gz"))
        assert get(srv.url_for("/dist/python.tar.gz")) == BODY
        assert srv.count("/dist/python.tar.gz") == 2


def test_fail_mid_body_sends_a_truncated_response(root: Path) -> None:
    with FileServer(root) as srv:
        srv.fail_once("/dist/python.tar.gz", mid_body=True, times=2)
        for _ in range(2):
            with (
                urllib.request.urlopen(srv.url_for("/dist/python.tar.gz"), timeout=5) as response,
                pytest.raises(http.client.IncompleteRead) as info,
            ):
                assert response.status == 200
                assert response.headers["Content-Length"] == str(len(BODY))
                response.read()
            assert len(info.value.partial) == len(BODY) // 2
        assert get(srv.url_for("/dist/python.tar.gz")) == BODY


def test_slow_delays_the_answer(root: Path) -> None:
    with FileServer(root) as srv:
        srv.slow("/dist/python.tar.gz", seconds=0.5)
        start = time.monotonic()
        assert get(srv.url_for("/dist/python.tar.gz")) == BODY
        assert time.monotonic() - start >= 0.5
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            get(srv.url_for("/dist/python.tar.gz"), timeout=0.1)
        srv.reset()
        start = time.monotonic()
        get(srv.url_for("/dist/python.tar.gz"))
        assert time.monotonic() - start < 0.5
        assert srv.requests == ["/dist/python.tar.gz"]
