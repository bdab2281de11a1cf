"""`make demo`: build examples/flask-app with the packaged buildpack under the real lifecycle,
start it, and print its URL and a response.

This machine cannot reach python.org or GitHub, so the demo uses what the test suite uses:
CPython archives built here from Debian's source packages (served on 127.0.0.1 as a mirror) and a
local package index. With `--serve` it keeps the app running until interrupted.

On a fresh machine most of the time goes into building CPython, so the demo builds only the one
it uses (the newest 3.13: the example asks for 3.13, and the packaged buildpack runs on 3.13 too);
the test suite builds the other versions when it first needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.harness.buildpack_dir import make_buildpack_dir
from tests.harness.http_server import FileServer
from tests.harness.lifecycle import BuildpackRef, Platform, free_port
from tests.harness.lifecycle_install import ensure_lifecycle
from tests.harness.lifecycle_run_image import ensure_run_image
from tests.harness.package_index import PackageIndex
from tests.harness.phases import REPO
from tests.harness.runtimes import RUNTIMES_DIR, ensure_newest
from tools.package import package_buildpack

EXAMPLE = REPO / "examples" / "flask-app"
DEMO_MINOR = "3.13"


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep the app running")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("make demo runs the CNB lifecycle in mount namespaces: run it as root")
        return 1

    step(f"Preparing CPython {DEMO_MINOR}, the lifecycle, the run image and a package index")
    started = time.monotonic()
    runtime = ensure_newest(DEMO_MINOR)
    lifecycle = ensure_lifecycle()
    run_image = ensure_run_image()
    print(f"ready in {time.monotonic() - started:.0f}s")

    with (
        tempfile.TemporaryDirectory(prefix="python-buildpack-demo-") as tmp,
        FileServer(RUNTIMES_DIR) as mirror,
        PackageIndex.start() as index,
    ):
        work = Path(tmp)
        step("Packaging the buildpack (it carries its own Python)")
        packaged = package_buildpack(runtime.arch, runtime.archive_path, work / "build")
        bp_dir = make_buildpack_dir(
            work / "buildpack", [runtime], mirror.url, source=packaged.dir, copy=True
        )
        platform = Platform.create(
            work / "platform",
            [BuildpackRef.from_dir(bp_dir)],
            run_image=run_image,
            lifecycle=lifecycle,
            env=index.pip_env,
        )
        step(f"Building {EXAMPLE.relative_to(REPO)} (analyze, detect, restore, build, export)")
        result = platform.build(EXAMPLE, image="flask-example")
        print(result.logs["builder"])
        step("Starting the app from the exported image, with its default process")
        port = free_port()
        with platform.launch(result, env={"PORT": str(port)}) as proc:
            proc.wait_for_port(port)
            url = f"http://127.0.0.1:{port}/"
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read().decode()
            print(f"The app is running at {url}")
            print(f"GET / -> {body}")
            if args.serve:
                print("Press Ctrl-C to stop it.")
                with contextlib.suppress(KeyboardInterrupt):
                    proc.popen.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
