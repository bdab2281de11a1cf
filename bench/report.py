"""The printed table and the targets of issue 9."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.builds import AppResults
from bench.stats import Series, ratio

COLD_RATIO = 1.15  # cold builder phase / baseline
WARM_SECONDS = 2.0  # warm builder phase
WARM_SHARE = 0.10  # warm total / cold total
DETECT_RATIO = 3.0  # bin/detect / bare interpreter start


@dataclass
class Target:
    name: str
    value: float | bool | None
    goal: str
    ok: bool | None

    def to_json(self) -> dict[str, Any]:
        value = self.value if not isinstance(self.value, float) else round(self.value, 3)
        return {"name": self.name, "value": value, "target": self.goal, "ok": self.ok}


def _le(value: float, limit: float) -> bool | None:
    return None if math.isnan(value) else value <= limit


def targets(apps: Sequence[AppResults], detect: Series, python_start: Series) -> list[Target]:
    found: list[Target] = []
    for app in apps:
        cold_ratio = ratio(app.cold.builder, app.baseline.get("total", Series()))
        found.append(
            Target(
                f"{app.name}: cold builder phase / baseline",
                cold_ratio,
                f"<= {COLD_RATIO}",
                _le(cold_ratio, COLD_RATIO),
            )
        )
        warm = app.rebuilds.get("warm")
        if warm is not None:
            found.append(
                Target(
                    f"{app.name}: warm rebuild, builder phase (s)",
                    warm.builder.median,
                    f"<= {WARM_SECONDS}",
                    _le(warm.builder.median, WARM_SECONDS),
                )
            )
            share = ratio(warm.total, app.cold.total)
            found.append(
                Target(
                    f"{app.name}: warm rebuild total / cold total",
                    share,
                    f"<= {WARM_SHARE}",
                    _le(share, WARM_SHARE),
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


SCENARIO_TITLES = {
    "warm": "2. Warm rebuild, nothing changed",
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
        lines.append(f"  {verdict:7} {target.name}: {shown} (target {target.goal})")
    return "\n".join(lines)
