"""The emerging-issue rule on counts alone: distinct cars in the window against the baseline rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drivetrain.quality.signals import ClusterCount, ClusterKey, Thresholds, emerging, evaluate, signals

KEY = ClusterKey("series-1", "brakes", "异响")
DEFAULT = Thresholds()
SHORT = Thresholds(window_days=10, baseline_days=20, min_vins=5)


def count(window: int, baseline: int, *, cases: int | None = None, key: ClusterKey = KEY) -> ClusterCount:
    return ClusterCount(
        key=key, window_vins=window, window_cases=window if cases is None else cases, baseline_vins=baseline
    )


@pytest.mark.parametrize(
    ("thresholds", "window", "baseline", "expected", "why"),
    [
        (DEFAULT, 5, 0, True, "five cars, never seen before"),
        (DEFAULT, 4, 0, False, "four cars are too few, however new"),
        (DEFAULT, 5, 32, False, "the baseline already ran at five cars a fortnight"),
        (DEFAULT, 5, 16, True, "16 cars in 90 days: five in 14 days is more than twice as fast"),
        (DEFAULT, 5, 17, False, "17 cars in 90 days: five in 14 days is less than twice as fast"),
        (DEFAULT, 40, 100, True, "a big cluster that more than doubled"),
        (SHORT, 6, 6, True, "exactly twice the baseline rate counts"),
        (SHORT, 6, 7, False, "just under twice the baseline rate"),
        (
            Thresholds(baseline_floor_vins=20),
            5,
            0,
            False,
            "a high floor: five cars are not twice 20 in 90 days",
        ),
        (Thresholds(baseline_floor_vins=10), 5, 0, True, "a floor of ten cars in 90 days is beaten"),
        (Thresholds(min_vins=1, window_days=2), 1, 0, True, "thresholds are settings, not constants"),
    ],
)
def test_emerging_rule(thresholds: Thresholds, window: int, baseline: int, expected: bool, why: str) -> None:
    assert evaluate(count(window, baseline), thresholds).emerging is expected, why


def test_numbers_are_cars_per_day() -> None:
    signal = evaluate(count(5, 0, cases=7), DEFAULT)
    assert (signal.distinct_vins, signal.cases) == (5, 7)
    assert signal.rate_per_day == 0.3571  # 5 / 14
    assert signal.baseline_per_day == 0.0  # as counted; the floor only sets the threshold
    assert signal.threshold_per_day == 0.0222  # 2 × 1 car / 90 days
    busy = evaluate(count(5, 32), DEFAULT)
    assert (busy.baseline_per_day, busy.threshold_per_day) == (0.3556, 0.7111)


def test_windows_come_before_now() -> None:
    now = datetime(2026, 3, 16, tzinfo=UTC)
    assert DEFAULT.window_start(now) == now - timedelta(days=14)
    assert DEFAULT.baseline_start(now) == now - timedelta(days=104)


def test_signals_drop_quiet_clusters_and_put_emerging_first() -> None:
    quiet = count(0, 9, cases=0, key=ClusterKey("series-1", "engine", ""))
    big_old = count(9, 200, key=ClusterKey("series-1", "engine", "漏油"))
    new = count(5, 0, key=ClusterKey("series-2", "brakes", "异响"))
    newer = count(6, 1, key=ClusterKey("series-3", "adas", ""))
    found = signals([quiet, big_old, new, newer], DEFAULT)
    assert [s.key for s in found] == [newer.key, new.key, big_old.key]
    assert [s.key for s in emerging([quiet, big_old, new, newer], DEFAULT)] == [newer.key, new.key]
