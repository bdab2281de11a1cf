"""`make bench`: build speed, image size, detect time and reproducibility of the buildpack.

    .venv/bin/python bench/run.py [--runs 3] [--quick] [--apps web,web_cext,uv_app] [--logs DIR]
                                  [--export registry|layout]

Packages the buildpack with its own runtime, then builds fixture apps under the real CNB lifecycle
(tests/harness/lifecycle.py), with CPython archives served from a local mirror and packages from
the local index, like `make demo` and the e2e tests. Prints a table and writes
bench/results.json. Not a test: nothing asserts a time; targets missed are reported, and the exit
status is 0 unless something failed to run. Needs root (mount namespaces), like `make e2e`.

Where images go (`--export`): by default to a registry on 127.0.0.1 (`crane registry serve`),
as in a CI pipeline (kpack, Tekton, `pack build --publish`); `layout` writes OCI layouts
instead, the lifecycle's experimental mode. In layout mode this lifecycle un-gzips every layer of
the previous image in the analyzer and again in the exporter to learn its diff ID, so the warm
rebuilds of apps with big launch layers (a Python, a venv) pay about 0.4 s a phase that no
registry or daemon export pays: both modes are worth a look, and the figures name the mode.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform as host
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/run.py` puts bench/, not the checkout, on sys.path
    sys.path.insert(0, str(REPO))

from bench.baseline import Baseline  # noqa: E402
from bench.builds import AppBench, AppResults, run_app  # noqa: E402
from bench.detect import measure_detect  # noqa: E402
from bench.report import build_table, targets, targets_text  # noqa: E402
from bench.runtimes import add_runtime_argument, bench_runtimes  # noqa: E402
from bench.stats import Series  # noqa: E402
from tests.harness.buildpack_dir import make_buildpack_dir  # noqa: E402
from tests.harness.http_server import FileServer  # noqa: E402
from tests.harness.lifecycle import BuildpackRef, PhaseFailed, Platform  # noqa: E402
from tests.harness.lifecycle_install import ensure_lifecycle  # noqa: E402
from tests.harness.lifecycle_run_image import ensure_run_image  # noqa: E402
from tests.harness.package_index import PackageIndex, serve_locked_package_index  # noqa: E402
from tests.harness.registry import Registry  # noqa: E402
from tools.package import package_buildpack  # noqa: E402

APPS = REPO / "bench" / "apps"
UV_APP = REPO / "tests" / "fixtures" / "apps" / "uv_app"
RESULTS = REPO / "bench" / "results.json"
MB = 1_000_000
EXPORT_TITLES = {"registry": "a registry on 127.0.0.1", "layout": "OCI layouts"}


def bench_apps() -> list[AppBench]:
    apps = [
        AppBench(
            "web",
            APPS / "web",
            code_change=True,
            pin_change=("bp-test-alpha==1.0.0", "bp-test-alpha==1.1.0"),
        ),
        AppBench("web_cext", APPS / "web_cext"),
        # The same app with uv's pip interface: no pip layer, uv from its wheel.
        AppBench("web_uvpip", APPS / "web", env={"BP_PIP_INSTALLER": "uv"}, reuse_off=False),
    ]
    # uv.lock support (issue 7): benchmarked once its fixture app has a committed lock file.
    if (UV_APP / "uv.lock").is_file():
        apps.append(AppBench("uv_app", UV_APP, uv=True, reuse_off=False))
    return apps


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": model,
        "kernel": host.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


@contextmanager
def _registry(export: str, work: Path) -> Iterator[Registry | None]:
    if export != "registry":
        yield None
        return
    progress("starting a registry on 127.0.0.1")
    with Registry.start(work / "registry") as registry:
        yield registry


@contextmanager
def work_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="python-buildpack-bench-"))
    try:
        yield path
    finally:
        if keep:
            progress(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def lifecycle_floor(work: Path, platform: Platform) -> Callable[[], dict[str, float]]:
    """One rebuild of a no-op shell buildpack (tests/fixtures/buildpacks/hello) per call, the
    seconds of each of its phases: what the five phases cost here whatever the buildpack does.
    Run right after each warm rebuild of an app, so both see the same load."""
    app = work / "apps" / "floor"
    app.mkdir(parents=True)
    (app / "hello.txt").write_text("hello\n")
    cache = work / "caches" / "floor"
    platform.build(app, image="floor", cache_dir=cache)

    def rebuild() -> dict[str, float]:
        result = platform.build(app, image="floor", cache_dir=cache, previous_image="floor")
        shutil.rmtree(result.layers_dir.parent, ignore_errors=True)
        return result.durations

    return rebuild


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each build scenario")
    parser.add_argument("--detect-runs", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="1 run per scenario, 20 detects")
    parser.add_argument(
        "--apps", help="comma-separated subset of: web, web_cext, web_uvpip, uv_app"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--logs", type=Path, help="write every build's lifecycle output here")
    parser.add_argument(
        "--export",
        choices=("registry", "layout"),
        default="registry",
        help="export images to a registry on 127.0.0.1 (default) or to OCI layouts",
    )
    add_runtime_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.detect_runs = 1, 20
    if os.geteuid() != 0:
        print("make bench runs the CNB lifecycle in mount namespaces: run it as root")
        return 1
    apps = bench_apps()
    if args.apps:
        wanted = set(args.apps.split(","))
        apps = [a for a in apps if a.name in wanted]

    started = time.monotonic()
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": args.runs,
        "export": args.export,
    }
    progress("preparing runtimes, the lifecycle, the run image and the package index")
    bench_python = bench_runtimes(args.runtime)
    runtime, runtimes = bench_python.runtime, bench_python.runtimes
    info["runtime"] = bench_python.describe
    lifecycle, run_image = ensure_lifecycle(), ensure_run_image()
    results: list[AppResults] = []
    failures: dict[str, str] = {}
    with (
        work_dir(args.keep) as work,
        FileServer(bench_python.mirror_root) as mirror,
        _registry(args.export, work) as registry,
    ):
        progress("packaging the buildpack")
        package_started = time.monotonic()
        packaged = package_buildpack(runtime.arch, runtime.archive_path, work / "package")
        info["buildpack"] = {
            "package_seconds": round(time.monotonic() - package_started, 1),
            "cgz_mb": round(packaged.size_bytes / MB, 2),
            "dir_mb": round(packaged.dir_size_bytes / MB, 2),
            "runtime": packaged.runtime_version,
        }
        bp_dir = make_buildpack_dir(
            work / "buildpack", runtimes, mirror.url, source=packaged.dir, copy=True
        )
        ref = BuildpackRef.from_dir(bp_dir)

        progress(f"detect: {args.detect_runs} runs")
        detect, python_start = measure_detect(packaged.dir, APPS / "web", args.detect_runs)

        progress("lifecycle floor: a no-op buildpack")
        hello = BuildpackRef.from_dir(REPO / "tests" / "fixtures" / "buildpacks" / "hello")
        floor_rebuild = lifecycle_floor(
            work,
            Platform.create(
                work / "platform-floor",
                [hello],
                run_image=run_image,
                lifecycle=lifecycle,
                registry=registry,
            ),
        )

        def _run(spec: AppBench, platform: Platform) -> AppResults:
            return run_app(
                spec, platform, baseline, work, args.runs, progress, floor_rebuild, args.logs
            )

        def platform_for(index: PackageIndex, name: str) -> Platform:
            return Platform.create(
                work / f"platform-{name}", [ref], run_image=run_image, lifecycle=lifecycle,
                env=index.pip_env, registry=registry,
            )  # fmt: skip

        with PackageIndex.start() as index:
            baseline = Baseline.prepare(
                work / "baseline",
                runtime.archive_path,
                f"{mirror.url}/{runtime.archive_path.name}",
                runtime.sha256,
                index.pip_env,
                with_uv=any(a.uv for a in apps),
            )
            for spec in (a for a in apps if not a.uv):
                results.append(_run(spec, platform_for(index, spec.name)))
        # Lock files name the index they were made with: the uv app needs it on its fixed port.
        for spec in (a for a in apps if a.uv):
            with contextmanager(serve_locked_package_index)() as locked:
                try:
                    results.append(_run(spec, platform_for(locked, spec.name)))
                except PhaseFailed as failure:
                    failures[spec.name] = f"{failure.phase} failed:\n{failure.output[-2000:]}"
                    progress(f"{spec.name}: {failures[spec.name]}")

    found = targets(results, detect, python_start)
    info["seconds"] = round(time.monotonic() - started, 1)
    info["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    info["detect"] = {
        "bin_detect": detect.to_json(),
        "python_start": python_start.to_json(),
        "ratio": round(detect.median / python_start.median, 2),
    }
    floor = Series([v for app in results for v in app.floor.values])
    floor_builder = Series([v for app in results for v in app.floor_builder.values])
    info["lifecycle_floor"] = floor.to_json()
    info["lifecycle_floor_builder"] = floor_builder.to_json()
    info["apps"] = {app.name: app.to_json() for app in results}
    info["failures"] = failures
    info["targets"] = [t.to_json() for t in found]
    args.output.write_text(json.dumps(info, indent=2) + "\n")

    print(_header(info))
    print(build_table(results))
    print(
        f"\n   Lifecycle floor here: a no-op buildpack's rebuild takes {floor.show()} in total "
        f"(5 phases),\n   {floor_builder.show()} of it in the builder phase; "
        "the warm rebuilds above minus that floor:"
    )
    for app in results:
        if "warm" in app.rebuilds:
            net = app.rebuilds["warm"].total.median - floor.median
            print(
                f"     {app.name}: {net:.1f}s, {net / app.cold.total.median:.0%} of its cold total"
            )
    print(
        "\n4. Detect, median (min-max) of "
        f"{args.detect_runs}: bin/detect {_ms(detect)}, "
        f"python3 -I -c pass {_ms(python_start)}, ratio {info['detect']['ratio']:.2f}"
    )
    bp = info["buildpack"]
    print(
        f"5. Packaged buildpack: {bp['cgz_mb']:.1f} MB .cgz, {bp['dir_mb']:.1f} MB unpacked "
        f"(its own Python {bp['runtime']})"
    )
    for app in results:
        for layer, paths in app.differences.items():
            print(f"\n{app.name}: files that differ in the {layer} layer between cold builds:")
            print("\n".join(f"  {p}" for p in paths))
    for name, why in failures.items():
        print(f"\n{name}: not measured, the build failed: {why}")
    print("\n" + targets_text(found))
    print(f"\nWrote {args.output} in {info['seconds'] / 60:.1f} min")
    return 0


def _ms(series: Series) -> str:
    scaled = Series([v * 1000 for v in series.values])
    return scaled.show("ms", 0)


def _header(info: dict[str, Any]) -> str:
    m = info["machine"]
    return (
        f"python-buildpack benchmark, {info['date']}, {m['usable_cores']} cores ({m['cpu']}), "
        f"load {m['load_average_at_start'][0]:.1f} at start / "
        f"{m['load_average_at_end'][0]:.1f} at end; {info['runs']} run(s) per scenario "
        f"(cold builds: at least 2); images exported to {EXPORT_TITLES[info['export']]}; "
        f"{info['runtime']}"
    )


if __name__ == "__main__":
    sys.exit(main())
