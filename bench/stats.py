"""Series of measurements and their summary (min / median / max)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Series:
    """Repeated measurements of one quantity, in seconds (or MB)."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def min(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def max(self) -> float:
        return max(self.values) if self.values else float("nan")

    def to_json(self) -> dict[str, object]:
        return {
            "min": round(self.min, 4),
            "median": round(self.median, 4),
            "max": round(self.max, 4),
            "runs": [round(v, 4) for v in self.values],
        }

    def show(self, unit: str = "s", digits: int = 1) -> str:
        """`median (min-max)`, or just the value for a single run."""
        if not self.values:
            return "-"
        if len(self.values) == 1:
            return f"{self.median:.{digits}f}{unit}"
        return f"{self.median:.{digits}f}{unit} ({self.min:.{digits}f}-{self.max:.{digits}f})"


def ratio(numerator: Series, denominator: Series) -> float:
    """The ratio of the medians (NaN when either side is missing)."""
    if not numerator.values or not denominator.values or denominator.median == 0:
        return float("nan")
    return numerator.median / denominator.median


def paired(numerator: Series, denominator: Series, op: str = "/") -> Series:
    """Run-by-run ratios (or differences, `op="-"`) of two series measured interleaved, so the
    spread shows how much the load on the machine moved them: min / median / max of the pairs."""
    pairs = zip(numerator.values, denominator.values, strict=False)
    if op == "-":
        return Series([a - b for a, b in pairs])
    return Series([a / b for a, b in pairs if b])
