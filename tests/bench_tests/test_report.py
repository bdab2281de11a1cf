"""bench/report.py: issue 15's targets, each against its reference measured in the same run."""

from __future__ import annotations

import math

import pytest

from bench.builds import AppResults, BuildSeries
from bench.report import Target, targets, targets_text
from bench.stats import Series, paired


def app(kind: str = "pip") -> AppResults:
    results = AppResults(name="web", packages=15, kind=kind)
    results.cold.builder = Series([4.0, 4.4, 3.6])
    results.baseline["total"] = Series([5.0, 5.0, 4.0])  # runs paired: 0.8, 0.88, 0.9
    warm = BuildSeries(total=Series([4.2, 4.0]), builder=Series([0.5, 0.3]))
    results.rebuilds["warm"] = warm
    results.floor = Series([1.3, 2.6])  # paired differences: 2.9, 1.4
    results.floor_builder = Series([0.07, 0.09])
    results.rebuilds["one pin changed"] = BuildSeries(builder=Series([2.2]))
    results.baseline["pin total"] = Series([2.0])
    results.digests = {"python": ["a", "a"], "venv": ["b", "b"]}
    return results


def by_name(found: list[Target]) -> dict[str, Target]:
    return {target.name.split(": ", 1)[-1]: target for target in found}


def test_each_target_is_the_median_of_run_by_run_pairs() -> None:
    found = by_name(targets([app()], Series([0.040]), Series([0.015])))
    cold = found["cold builder phase / baseline"]
    assert cold.value == pytest.approx(0.88) and cold.ok is False
    assert cold.spread is not None and cold.spread.min == pytest.approx(0.8)
    over = found["warm rebuild total - no-op buildpack's (s)"]
    assert over.value == pytest.approx((2.9 + 1.4) / 2) and over.ok is False
    builder = found["warm rebuild, builder phase (s)"]
    assert builder.value == pytest.approx(0.4)
    # The lifecycle's part of the phase is shown beside it, not taken off it.
    assert builder.note == "a no-op buildpack's builder phase: 0.08 s"
    assert "(target <= 0.3 s; a no-op buildpack's builder phase: 0.08 s)" in targets_text([builder])
    pin = found["one pin changed, builder phase / by-hand warm pip install"]
    assert pin.value == pytest.approx(1.1) and pin.ok is True  # the limit itself holds
    assert found["launch layers reproducible"].ok is True
    detect = found["bin/detect / python -I -c pass"]
    assert detect.value == pytest.approx(40 / 15) and detect.ok is True


def test_the_uv_app_has_its_own_cold_limit() -> None:
    results = app(kind="uv")
    results.cold.builder = Series([5.5, 5.5, 5.5])  # 1.1, 1.1, 1.375
    found = by_name(targets([results], Series([0.04]), Series([0.015])))
    assert found["cold builder phase / baseline"].ok is True
    assert found["cold builder phase / baseline"].goal == "<= 1.2"


def test_a_missing_measurement_is_unknown_not_met() -> None:
    results = app()
    results.baseline = {}
    results.digests = {"python": ["a"]}  # one cold build: nothing to compare
    found = by_name(targets([results], Series(), Series()))
    cold = found["cold builder phase / baseline"]
    assert math.isnan(cold.value) and cold.ok is None
    assert "one pin changed, builder phase / by-hand warm pip install" not in found
    assert found["launch layers reproducible"].ok is None
    assert found["bin/detect / python -I -c pass"].ok is None


def test_different_layer_digests_fail_reproducibility() -> None:
    results = app()
    results.digests["venv"] = ["b", "c"]
    assert (
        by_name(targets([results], Series([1.0]), Series([1.0])))["launch layers reproducible"].ok
        is False
    )


def test_paired_skips_a_zero_reference() -> None:
    assert paired(Series([1.0, 2.0]), Series([0.0, 4.0])).values == [0.5]
    assert paired(Series([3.0, 2.0]), Series([1.0, 4.0]), "-").values == [2.0, -2.0]
