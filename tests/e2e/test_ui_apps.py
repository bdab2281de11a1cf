"""Streamlit and Gradio apps get a web process that a platform's router reaches (issue 12,
item 8): the inferred command is in the build log and the image's process metadata, and the
image's default process, launched in a network namespace of its own with `$PORT` set, answers
on the namespace's non-loopback address. Gradio listens on 127.0.0.1 and 7860 unless told
otherwise, so a command that lost `GRADIO_SERVER_NAME` or `GRADIO_SERVER_PORT` fails here;
Streamlit listens on 8501 by default, so one that lost `--server.port` does (with no
`--server.address` it binds every interface, so the address flag is pinned by the log
assertion, not by the launch).

One build per app (module-scoped), with the real packages from the local index: these are the
largest apps of the suite (numpy, pandas, pyarrow), so each is built once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.harness.lifecycle import BuildResult, Platform
from tests.harness.lifecycle_namespace import PrivateNetwork

pytestmark = pytest.mark.e2e

# Not 8000 (the command's fallback) and not the frameworks' defaults (8501, 7860): reaching the
# app here proves `$PORT` was used.
PORT = 8123
STREAMLIT_WEB = (
    "streamlit run streamlit_app.py --server.address 0.0.0.0 --server.port ${PORT:-8000} "
    "--server.headless true"
)
GRADIO_WEB = "GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=${PORT:-8000} python app.py"


def web_command(result: BuildResult) -> list[str]:
    (web,) = [p for p in result.build_metadata["processes"] if p["type"] == "web"]
    return [*web["command"], *web.get("args", [])]


def test_streamlit_app_infers_streamlit_run(builds: Callable[[str], BuildResult]) -> None:
    result = builds("streamlit_app")
    assert (
        f"web: {STREAMLIT_WEB} (inferred: streamlit_app.py imports streamlit)"
        in result.logs["builder"]
    )
    assert web_command(result) == ["bash", "-c", STREAMLIT_WEB]


def test_streamlit_app_answers_on_the_non_loopback_address(
    platform: Platform, builds: Callable[[str], BuildResult]
) -> None:
    result = builds("streamlit_app")
    with platform.launch(result, env={"PORT": str(PORT)}, network=PrivateNetwork()) as proc:
        page = proc.get(PORT, "/", timeout=120)
        health = proc.get(PORT, "/_stcore/health")
    assert (health.status, health.body) == (200, b"ok")
    assert page.status == 200
    assert b"<title>Streamlit</title>" in page.body


def test_gradio_app_infers_its_server_from_the_environment(
    builds: Callable[[str], BuildResult],
) -> None:
    result = builds("gradio_app")
    log = result.logs["builder"]
    assert f"web: {GRADIO_WEB} (inferred: app.py imports gradio)" in log
    assert "passes server_name or server_port" not in log
    assert web_command(result) == ["bash", "-c", GRADIO_WEB]


def test_gradio_app_answers_on_the_non_loopback_address(
    platform: Platform, builds: Callable[[str], BuildResult]
) -> None:
    result = builds("gradio_app")
    with platform.launch(result, env={"PORT": str(PORT)}, network=PrivateNetwork()) as proc:
        page = proc.get(PORT, "/", timeout=120)
        config = proc.get(PORT, "/config")
    assert config.status == 200
    answer = json.loads(config.body)
    assert answer["version"] == "6.31.0"
    assert answer["title"] == "Gradio on the buildpack"
    assert page.status == 200
    assert b"<gradio-app" in page.body
