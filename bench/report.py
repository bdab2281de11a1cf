"""The printed table and the targets of issue 15."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.builds import AppResults
from bench.stats import Series, paired, ratio

# Issue 15's targets, each measured against its own reference in the same run.
COLD_RATIO = {"pip": 0.8, "uv": 1.2}  # cold builder phase / by-hand baseline
WARM_OVER_FLOOR = 1.5  # warm rebuild total - no-op buildpack's rebuild total (s)
PIN_RATIO = 1.1  # one pin changed, builder phase / by-hand pip install -r, warm cache
WARM_BUILDER = 0.3  # warm rebuild, builder phase (s)
DETECT_RATIO = 3.0  # bin/detect / bare interpreter start


@dataclass
class Target:
    name: str
    value: float | bool | None
    goal: str
    ok: bool | None
    spread: Series | None = None  # the run-by-run values, when there are several
    note: str | None = None  # context printed beside it, not part of the verdict

    def to_json(self) -> dict[str, Any]:
        value = self.value if not isinstance(self.value, float) else round(self.value, 3)
        shown: dict[str, Any] = {"name": self.name, "value": value, "target": self.goal}
        if self.spread is not None:
            shown["runs"] = self.spread.to_json()
        if self.note is not None:
            shown["note"] = self.note
        return {**shown, "ok": self.ok}


def _le(value: float, limit: float) -> bool | None:
    return None if math.isnan(value) else value <= limit


def _series_target(name: str, series: Series, limit: float, unit: str = "") -> Target:
    return Target(name, series.median, f"<= {limit}{unit}", _le(series.median, limit), series)


def targets(apps: Sequence[AppResults], detect: Series, python_start: Series) -> list[Target]:
    found: list[Target] = []
    for app in apps:
        limit = COLD_RATIO[app.kind]
        cold = paired(app.cold.builder, app.baseline.get("total", Series()))
        found.append(_series_target(f"{app.name}: cold builder phase / baseline", cold, limit))
        warm = app.rebuilds.get("warm")
        if warm is not None:
            if app.floor.values:
                over = paired(warm.total, app.floor, "-")
                found.append(
                    _series_target(
                        f"{app.name}: warm rebuild total - no-op buildpack's (s)",
                        over,
                        WARM_OVER_FLOOR,
                        " s",
                    )
                )
            builder = _series_target(
                f"{app.name}: warm rebuild, builder phase (s)", warm.builder, WARM_BUILDER, " s"
            )
            if app.floor_builder.values:
                # The phase holds the lifecycle's own work too: how much, the no-op shows.
                builder.note = (
                    f"a no-op buildpack's builder phase: {app.floor_builder.median:.2f} s"
                )
            found.append(builder)
        pin = app.rebuilds.get("one pin changed")
        if pin is not None and "pin total" in app.baseline:
            found.append(
                _series_target(
                    f"{app.name}: one pin changed, builder phase / by-hand warm pip install",
                    paired(pin.builder, app.baseline["pin total"]),
                    PIN_RATIO,
                )
            )
        reproducible = app.reproducible
        found.append(
            Target(f"{app.name}: launch layers reproducible", reproducible, "same", reproducible)
        )
    detect_ratio = ratio(detect, python_start)
    found.append(
        Target(
            "bin/detect / python -I -c pass",
            detect_ratio,
            f"<= {DETECT_RATIO}",
            _le(detect_ratio, DETECT_RATIO),
        )
    )
    return found


PHASES = ("analyzer", "detector", "restorer", "builder", "exporter")


def _phases_cell(series: Any) -> str:
    """Median seconds of each lifecycle phase, in order: where a rebuild's time goes."""
    if series is None or not series.phases:
        return "-"
    return "/".join(f"{series.phases[p].median:.1f}" for p in PHASES if p in series.phases)


SCENARIO_TITLES = {
    "first warm, after the cold build": (
        "2a. First warm rebuild after a cold build (launch layers restored from the cache)"
    ),
    "warm": "2. Warm rebuild, nothing changed (launch layers from the previous image)",
    "warm, BP_PIP_REUSE_VENV=false": (
        "2b. Warm rebuild with BP_PIP_REUSE_VENV=false (reinstall from the pip cache)"
    ),
    "code change": "3. Rebuild after a code-only change",
    "one pin changed": "3b. Rebuild after one pin changed",
}


class Table:
    """Rows of `label | one cell per app`, printed with aligned columns."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.rows: list[tuple[str, list[str]] | str] = []

    def section(self, title: str) -> None:
        self.rows.append(title)

    def row(self, label: str, cells: Sequence[str]) -> None:
        self.rows.append((label, list(cells)))

    def render(self) -> str:
        label_width = max([len(r[0]) for r in self.rows if isinstance(r, tuple)] + [10])
        widths = [len(c) for c in self.columns]
        for r in self.rows:
            if isinstance(r, tuple):
                widths = [max(w, len(cell)) for w, cell in zip(widths, r[1], strict=True)]
        lines = [" " * label_width + "  " + "  ".join(c.ljust(w) for c, w in zip(
            self.columns, widths, strict=True))]  # fmt: skip
        for r in self.rows:
            if isinstance(r, str):
                lines.append(f"\n{r}")
                continue
            label, cells = r
            lines.append(
                label.ljust(label_width)
                + "  "
                + "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True))
            )
        return "\n".join(line.rstrip() for line in lines)


def _cell(series: Series | None, unit: str = "s", digits: int = 1) -> str:
    return series.show(unit, digits) if series is not None else "-"


def _ratio_cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def build_table(apps: Sequence[AppResults]) -> str:
    table = Table([f"{a.name} ({a.packages} pkgs)" for a in apps])

    def row(label: str, cell: Any) -> None:
        table.row(label, [cell(a) for a in apps])

    table.section("1. Cold build (empty cache), median (min-max)")
    row("  total, 5 lifecycle phases", lambda a: _cell(a.cold.total))
    row("  builder phase", lambda a: _cell(a.cold.builder))
    row("  bin/build in process (Done)", lambda a: _cell(a.cold.buildpack))
    steps: list[str] = []
    for app in apps:
        steps += [s for s in app.cold.steps if s not in steps]
    for step in steps:
        row(f"    {step}", lambda a, s=step: _cell(a.cold.steps.get(s)))
    row("  baseline by hand", lambda a: _cell(a.baseline.get("total")))
    row("    download + sha256 + untar", lambda a: _cell(a.baseline.get("python")))
    row("    python -m venv", lambda a: _cell(a.baseline.get("venv"), digits=2))
    row("    install, empty cache", lambda a: _cell(a.baseline.get("install")))
    row(
        "  ratio builder phase / baseline",
        lambda a: _ratio_cell(ratio(a.cold.builder, a.baseline.get("total", Series()))),
    )
    row(
        "  ratio total / baseline",
        lambda a: _ratio_cell(ratio(a.cold.total, a.baseline.get("total", Series()))),
    )

    scenarios: list[str] = []
    for app in apps:
        scenarios += [s for s in app.rebuilds if s not in scenarios]
    for scenario in scenarios:
        table.section(SCENARIO_TITLES.get(scenario, f"Rebuild: {scenario}"))

        def series(a: AppResults, s: str = scenario) -> Any:
            return a.rebuilds.get(s)

        row("  total, 5 lifecycle phases", lambda a: _cell(getattr(series(a), "total", None)))
        row("  builder phase", lambda a: _cell(getattr(series(a), "builder", None)))
        row("  bin/build in process (Done)", lambda a: _cell(getattr(series(a), "buildpack", None)))
        row("  analyze/detect/restore/build/export", lambda a: _phases_cell(series(a)))
        row(
            "  share of the cold total",
            lambda a: _ratio_cell(ratio(series(a).total, a.cold.total)) if series(a) else "-",
        )
        if scenario != "warm":
            row(
                "  ratio to the warm rebuild",
                lambda a: (
                    _ratio_cell(ratio(series(a).total, a.rebuilds["warm"].total))
                    if series(a) and "warm" in a.rebuilds
                    else "-"
                ),
            )
        row("  venv", lambda a: ", ".join(sorted(set(series(a).notes))) if series(a) else "-")

    table.section("4. Lifecycle floor and cache")
    row("  no-op buildpack's rebuild, 5 phases", lambda a: _cell(a.floor))
    row(
        "  by-hand pip install -r, fresh venv, warm cache",
        lambda a: _cell(a.baseline.get("pin total")),
    )
    row(
        "  build cache after a cold build (MB)",
        lambda a: "-" if math.isnan(a.cache_mb) else f"{a.cache_mb:.1f}",
    )

    table.section("5. Sizes of the launch layers (MB, gzip / on disk)")
    layers = sorted({layer for a in apps for layer in a.sizes})
    for layer in layers:
        row(
            f"  {layer} layer",
            lambda a, n=layer: (
                f"{a.sizes[n]['compressed_mb']:.1f} / {a.sizes[n]['uncompressed_mb']:.1f}"
                if n in a.sizes
                else "-"
            ),
        )
    table.section("6. Reproducibility: launch layers of the cold builds (each from scratch)")
    for layer in layers:
        row(
            f"  {layer} layer digests",
            lambda a, n=layer: (
                ("identical" if len(set(a.digests[n])) == 1 else "DIFFER")
                + f" ({len(a.digests[n])} builds)"
                if n in a.digests
                else "-"
            ),
        )
    return table.render()


def targets_text(found: Sequence[Target]) -> str:
    lines = ["Targets"]
    for target in found:
        verdict = {True: "ok", False: "MISSED", None: "n/a"}[target.ok]
        value = target.value
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        spread = target.spread
        if spread is not None and len(spread.values) > 1:
            shown = f"median {shown} (min {spread.min:.2f}, max {spread.max:.2f})"
        note = f"; {target.note}" if target.note else ""
        lines.append(f"  {verdict:7} {target.name}: {shown} (target {target.goal}{note})")
    return "\n".join(lines)
