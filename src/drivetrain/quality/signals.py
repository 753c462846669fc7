"""When a cluster of owner cases is an emerging issue: pure arithmetic on counts, no I/O.

A cluster is a (series, component, symptom). Its window is the last ``window_days`` up to now; its
baseline the ``baseline_days`` before the window. Both are counted in distinct cars, so one owner
complaining five times is one car. A cluster is an emerging issue when enough cars are affected in
the window and they arrive at least ``rate_ratio`` times as fast as they did in the baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Thresholds:
    window_days: int = 14
    baseline_days: int = 90
    min_vins: int = 5
    rate_ratio: float = 2.0
    baseline_floor_vins: float = 1.0
    """A cluster never seen before is compared with this many cars over the baseline period, not with
    zero: any rate beats zero, so without a floor the ratio says nothing and ``min_vins`` alone decides."""

    def window_start(self, now: datetime) -> datetime:
        return now - timedelta(days=self.window_days)

    def baseline_start(self, now: datetime) -> datetime:
        return now - timedelta(days=self.window_days + self.baseline_days)


@dataclass(frozen=True, order=True)
class ClusterKey:
    series_id: str
    component: str
    symptom: str
    """'' when the cases name no symptom: the cluster is the component alone."""


@dataclass(frozen=True)
class ClusterCount:
    """What the database counted for one cluster."""

    key: ClusterKey
    window_vins: int
    window_cases: int
    baseline_vins: int
    last_case_at: datetime | None = None


@dataclass(frozen=True)
class Signal:
    key: ClusterKey
    distinct_vins: int
    cases: int
    rate_per_day: float
    """Distinct cars per day in the window."""
    baseline_per_day: float
    """Distinct cars per day in the baseline period, as counted (zero stays zero here)."""
    threshold_per_day: float
    """The rate the window had to reach: ``rate_ratio`` × the baseline, floored."""
    emerging: bool
    last_case_at: datetime | None


def _per_day(cars: float, days: int) -> float:
    return round(cars / days, 4)


def evaluate(count: ClusterCount, thresholds: Thresholds) -> Signal:
    """The cluster's numbers and whether it is an emerging issue.

    Compared as cross-multiplied counts, so a rate exactly at the threshold counts, whatever the rounding."""
    t = thresholds
    compared_baseline = max(float(count.baseline_vins), t.baseline_floor_vins)
    fast_enough = count.window_vins * t.baseline_days >= t.rate_ratio * compared_baseline * t.window_days
    return Signal(
        key=count.key,
        distinct_vins=count.window_vins,
        cases=count.window_cases,
        rate_per_day=_per_day(count.window_vins, t.window_days),
        baseline_per_day=_per_day(count.baseline_vins, t.baseline_days),
        threshold_per_day=_per_day(t.rate_ratio * compared_baseline, t.baseline_days),
        emerging=count.window_vins >= t.min_vins and fast_enough,
        last_case_at=count.last_case_at,
    )


def signals(counts: Iterable[ClusterCount], thresholds: Thresholds) -> list[Signal]:
    """Every cluster with cases in the window: emerging ones first, then by cars affected."""
    found = [evaluate(count, thresholds) for count in counts if count.window_cases > 0]
    return sorted(found, key=lambda s: (not s.emerging, -s.distinct_vins, -s.cases, s.key))


def emerging(counts: Iterable[ClusterCount], thresholds: Thresholds) -> list[Signal]:
    """The clusters that are emerging issues now."""
    return [signal for signal in signals(counts, thresholds) if signal.emerging]
