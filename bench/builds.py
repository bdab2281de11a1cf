"""The build scenarios of one fixture app under the real lifecycle (tests/harness/lifecycle.py).

Cold builds start from an empty cache and a new image name (so no previous image either); each is
paired with a baseline run (bench/baseline.py), alternating, so that load from other processes on
the machine hits both alike. Rebuilds reuse the first cold build's cache and image, the way
`pack build` does on a developer's machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.baseline import Baseline
from bench.buildlog import step_times, total_time
from bench.stats import Series
from bench.trees import differing_paths, tree_bytes
from tests.harness.lifecycle import BuildResult, Platform

BUILDPACK_ID = "python-buildpack/python"
LAYER_DIR = "python-buildpack_python"
LAUNCH_LAYERS = ("python", "venv")
MB = 1_000_000
REUSE_VENV_ENV = "BP_PIP_REUSE_VENV"
REUSED = "Using cached virtual environment"
FIRST_WARM = "first warm, after the cold build"


@dataclass
class BuildSeries:
    """Repeated builds of one scenario: per phase, per buildpack step, and in total."""

    total: Series = field(default_factory=Series)  # the five lifecycle phases
    builder: Series = field(default_factory=Series)  # the builder phase (our bin/build in it)
    buildpack: Series = field(default_factory=Series)  # bin/build's own `Done (…)`
    phases: dict[str, Series] = field(default_factory=dict)
    steps: dict[str, Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, result: BuildResult) -> None:
        self.total.add(sum(result.durations.values()))
        self.builder.add(result.durations["builder"])
        self.buildpack.add(total_time(result.logs["builder"]) or float("nan"))
        for phase, seconds in result.durations.items():
            self.phases.setdefault(phase, Series()).add(seconds)
        for step, seconds in step_times(result.logs["builder"]).items():
            self.steps.setdefault(step, Series()).add(seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            "builder_phase": self.builder.to_json(),
            "buildpack": self.buildpack.to_json(),
            "phases": {name: s.to_json() for name, s in self.phases.items()},
            "steps": {name: s.to_json() for name, s in self.steps.items()},
            "notes": self.notes,
        }


@dataclass
class AppResults:
    name: str
    packages: int
    cold: BuildSeries = field(default_factory=BuildSeries)
    baseline: dict[str, Series] = field(default_factory=dict)
    rebuilds: dict[str, BuildSeries] = field(default_factory=dict)
    # layer → {"compressed_mb", "uncompressed_mb"}
    sizes: dict[str, dict[str, float]] = field(default_factory=dict)
    # layer → the digest of each cold build
    digests: dict[str, list[str]] = field(default_factory=dict)
    # layer → paths that differ between the first two cold builds (when the digests do)
    differences: dict[str, list[str]] = field(default_factory=dict)
    # The lifecycle's floor, interleaved with this app's warm rebuilds: a no-op buildpack's
    # rebuild right after each one: all five phases, and its builder phase alone.
    floor: Series = field(default_factory=Series)
    floor_builder: Series = field(default_factory=Series)
    # MB of the build cache (cache volume) after the first cold build.
    cache_mb: float = float("nan")
    kind: str = "pip"  # which targets apply: "pip" or "uv"

    @property
    def reproducible(self) -> bool | None:
        if not self.digests or min(len(d) for d in self.digests.values()) < 2:
            return None
        return all(len(set(digests)) == 1 for digests in self.digests.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "packages": self.packages,
            "cold": self.cold.to_json(),
            "baseline": {name: s.to_json() for name, s in self.baseline.items()},
            "rebuilds": {name: s.to_json() for name, s in self.rebuilds.items()},
            "sizes_mb": self.sizes,
            "reproducible": self.reproducible,
            "layer_digests": self.digests,
            "differences": self.differences,
            "floor": self.floor.to_json(),
            "floor_builder": self.floor_builder.to_json(),
            "cache_mb": self.cache_mb,
            "kind": self.kind,
        }


@dataclass
class AppBench:
    """How to benchmark one app: which rebuild scenarios apply to it."""

    name: str
    source: Path
    uv: bool = False  # a uv.lock app: the baseline runs `uv sync`
    reuse_off: bool = True  # BP_PIP_REUSE_VENV applies (pip apps)
    code_change: bool = False
    pin_change: tuple[str, str] | None = None  # requirements line → the line it becomes
    env: dict[str, str] = field(default_factory=dict)  # platform env of every build


def count_packages(app: Path) -> int:
    requirements = app / "requirements.txt"
    if requirements.is_file():
        lines = requirements.read_text().splitlines()
        return sum(1 for line in lines if line.strip() and not line.startswith(("#", "-")))
    lock = app / "uv.lock"
    if lock.is_file():  # every [[package]] but the project itself (virtual or editable)
        packages = lock.read_text().count("[[package]]")
        return packages - 1
    return 0


def run_app(
    spec: AppBench,
    platform: Platform,
    baseline: Baseline,
    work: Path,
    runs: int,
    progress: Callable[[str], None],
    floor: Callable[[], dict[str, float]] | None = None,
    logs: Path | None = None,
) -> AppResults:
    app = work / "apps" / spec.name
    shutil.copytree(spec.source, app)
    results = AppResults(spec.name, count_packages(app), kind="uv" if spec.uv else "pip")
    for name, value in spec.env.items():
        (platform.platform_dir / "env" / name).write_text(value)
    caches = work / "caches" / spec.name
    saved = iter(range(1, 1_000))

    def save_log(scenario: str, result: BuildResult) -> None:
        """With `--logs`: every phase's output of each build, numbered in build order."""
        if logs is not None:
            slug = scenario.replace(" ", "-").replace(",", "").replace("=", "-")
            target = logs / f"{spec.name}-{next(saved):02d}-{slug}.log"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(result.output)

    colds: list[BuildResult] = []
    cold_runs = max(runs, 2)  # reproducibility compares two cold builds at least
    for index in range(cold_runs):
        progress(f"{spec.name}: baseline {index + 1}/{cold_runs}")
        for step, seconds in baseline.run(app, uv=spec.uv).items():
            results.baseline.setdefault(step, Series()).add(seconds)
        progress(f"{spec.name}: cold build {index + 1}/{cold_runs}")
        cold = platform.build(app, image=f"{spec.name}-cold-{index}", cache_dir=caches / f"{index}")
        results.cold.add(cold)
        save_log("cold", cold)
        colds.append(cold)

    _record_layers(results, colds)
    image, cache = colds[0].image_ref, caches / "0"
    results.cache_mb = round(tree_bytes(cache) / MB, 1)
    for cold in colds:  # the build directories are large; the images stay in the layout
        _remove_build_dir(cold)

    def rebuild(
        scenario: str,
        change: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
        times: int = runs,
    ) -> BuildSeries:
        series = results.rebuilds.setdefault(scenario, BuildSeries())
        for index in range(times):
            if change is not None:
                change()
            progress(f"{spec.name}: {scenario} {index + 1}/{times}")
            result = platform.build(app, image=image, cache_dir=cache, previous_image=image)
            series.add(result)
            save_log(scenario, result)
            _remove_build_dir(result)
            if REUSED in result.logs["builder"]:
                series.notes.append("venv reused")
            else:
                series.notes.append("venv reinstalled")
            if after is not None:
                after()
        return series

    def floor_run() -> None:
        if floor is not None:
            progress(f"{spec.name}: lifecycle floor (no-op buildpack rebuild)")
            durations = floor()
            results.floor.add(sum(durations.values()))
            results.floor_builder.add(durations["builder"])

    # The first rebuild after a cold build restores the launch layers from the cache and leaves
    # them to the image (`layers.previous_image`); the rebuilds after it, as in a developer's
    # loop, restore only their metadata. Both are measured; the targets use the second.
    rebuild(FIRST_WARM, times=1)
    rebuild("warm", after=floor_run)
    if spec.reuse_off:
        env_file = platform.platform_dir / "env" / REUSE_VENV_ENV
        env_file.write_text("false")
        try:
            rebuild("warm, BP_PIP_REUSE_VENV=false")
        finally:
            env_file.unlink()
    if spec.code_change:
        counter = iter(range(1, 1_000))

        def edit_code() -> None:
            with (app / "app.py").open("a") as f:
                f.write(f"# edit {next(counter)}\n")

        rebuild("code change", edit_code)
    if spec.pin_change is not None:
        old, new = spec.pin_change
        requirements = app / "requirements.txt"

        def toggle_pin() -> None:
            text = requirements.read_text()
            if f"{old}\n" in text:
                text = text.replace(f"{old}\n", f"{new}\n")
            else:
                text = text.replace(f"{new}\n", f"{old}\n")
            requirements.write_text(text)

        def warm_baseline() -> None:
            progress(f"{spec.name}: baseline, pip install -r into a fresh venv, warm cache")
            for step, seconds in baseline.warm_install(app).items():
                results.baseline.setdefault(f"pin {step}", Series()).add(seconds)

        rebuild("one pin changed", toggle_pin, after=warm_baseline)
    return results


def _record_layers(results: AppResults, colds: list[BuildResult]) -> None:
    first = colds[0]
    blobs = dict(zip(first.image.diff_ids, first.image.layers, strict=True))
    for layer in LAUNCH_LAYERS:
        key = f"{BUILDPACK_ID}:{layer}"
        if key not in first.layer_digests:
            continue
        results.sizes[layer] = {
            "compressed_mb": round(blobs[first.layer_digests[key]].size / MB, 2),
            "uncompressed_mb": round(tree_bytes(first.layers_dir / LAYER_DIR / layer) / MB, 2),
        }
        results.digests[layer] = [cold.layer_digests[key] for cold in colds]
        if len(colds) > 1 and len(set(results.digests[layer])) > 1:
            odd = next(c for c in colds if c.layer_digests[key] != first.layer_digests[key])
            results.differences[layer] = differing_paths(
                first.layers_dir / LAYER_DIR / layer, odd.layers_dir / LAYER_DIR / layer
            )


def _remove_build_dir(result: BuildResult) -> None:
    shutil.rmtree(result.layers_dir.parent, ignore_errors=True)
