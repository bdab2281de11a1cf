"""One build and launch under the CNB lifecycle with no network at all: run as

    unshare --net -- python -m tests.harness.offline_build REQUEST.json RESULT.json

in a new network namespace whose only interface is loopback (brought up here). Inside it, the
package index is served on 127.0.0.1 (it is the namespace's own loopback: the host's servers,
such as the CPython mirror the buildpack's manifest names, are out of reach), the app is built
with the lifecycle (`tests/harness/lifecycle.py`), its web process launched and asked for `/`.

REQUEST: {"buildpack": dir, "app": dir, "work": dir, "unreachable": url}
RESULT: {"interfaces": [...], "unreachable_error": str, "build_log": str,
         "answer": {...} | null, "error": str | null}

Everything the build needs beyond the namespace (the lifecycle binaries, the run image, the
package index tree) must already be cached: the caller makes sure of it first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness.lifecycle import BuildpackRef, PhaseFailed, Platform, free_port
from tests.harness.package_index import PackageIndex


def interfaces() -> list[str]:
    """The network interfaces of this process's namespace (/proc/net is per namespace;
    /sys/class/net shows the namespace that mounted sysfs, the host's)."""
    lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines)


def _reach(url: str) -> str:
    """Why `url` cannot be fetched ("" if it can)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return ""
    except OSError as error:
        return f"{type(error).__name__}: {error}"


def run(request: dict[str, Any]) -> dict[str, Any]:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    result: dict[str, Any] = {
        "interfaces": interfaces(),
        "unreachable_error": _reach(request["unreachable"]),
        "build_log": "",
        "answer": None,
        "error": None,
    }
    with PackageIndex.start() as index:
        platform = Platform.create(
            Path(request["work"]),
            [BuildpackRef.from_dir(Path(request["buildpack"]))],
            env=index.pip_env,
        )
        try:
            build = platform.build(Path(request["app"]))
        except PhaseFailed as failure:
            result["build_log"] = "\n".join(failure.logs.values())
            result["error"] = f"the {failure.phase} phase failed"
            return result
        result["build_log"] = build.logs["builder"]
        port = free_port()
        with platform.launch(build, env={"PORT": str(port)}) as proc:
            proc.wait_for_port(port, timeout=60)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                result["answer"] = json.loads(response.read())
    return result


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text())
    try:
        result = run(request)
    except Exception:
        result = {"error": traceback.format_exc()}
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
