"""Clusters, trends and alerts as the API and the console show them: a few queries each, whatever the
number of cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput
from drivetrain.org.repository import StaffRepository
from drivetrain.quality.models import AlertStatus, DefectAlert
from drivetrain.quality.repository import PRODUCT_COMPONENTS, AffectedCase, QualityRepository
from drivetrain.quality.schemas import (
    AffectedCaseRead,
    AffectedVehicleRead,
    AlertDetail,
    AlertRead,
    ClusterList,
    ClusterRead,
    ClusterVehicles,
    ComponentList,
    ComponentRow,
    TrendLine,
    TrendRead,
)
from drivetrain.quality.service import DEFAULT_THRESHOLDS
from drivetrain.quality.signals import ClusterKey, Thresholds, signals

COMPONENTS = frozenset(c.value for c in PRODUCT_COMPONENTS)


def series_id_of(session: Session, name: str) -> str:
    found = QualityRepository(session).series_id_of(name)
    if found is None:
        raise InvalidInput("series", f"no series named {name}")
    return found


def series_filter(session: Session, name: str | None) -> str | None:
    """The series named, or None for every series; an unknown name is bad input."""
    return series_id_of(session, name) if name else None


def cluster_key(session: Session, series: str, component: str, symptom: str | None) -> ClusterKey:
    if component not in COMPONENTS:
        raise InvalidInput("component", f"one of {', '.join(sorted(COMPONENTS))}")
    return ClusterKey(series_id_of(session, series), component, symptom or "")


def thresholds_for(days: int) -> Thresholds:
    """The alert thresholds over a window of ``days`` instead of the default."""
    return replace(DEFAULT_THRESHOLDS, window_days=days)


def clusters(
    session: Session, subject: AuthSubject, *, days: int, series_id: str | None, now: datetime
) -> ClusterList:
    t = thresholds_for(days)
    repo = QualityRepository(session)
    window_start, baseline_start = t.window_start(now), t.baseline_start(now)
    counts = repo.cluster_counts(
        subject, window_start=window_start, baseline_start=baseline_start, until=now, series_id=series_id
    )
    names = repo.series_names()
    items = [
        ClusterRead(
            series=names.get(s.key.series_id, ""),
            component=s.key.component,
            symptom=s.key.symptom or None,
            distinct_vins=s.distinct_vins,
            cases=s.cases,
            rate_per_day=s.rate_per_day,
            baseline_per_day=s.baseline_per_day,
            threshold_per_day=s.threshold_per_day,
            emerging=s.emerging,
            last_case_at=s.last_case_at,
        )
        for s in signals(counts, t)
    ]
    return ClusterList(
        window_start=window_start,
        baseline_start=baseline_start,
        until=now,
        window_days=t.window_days,
        baseline_days=t.baseline_days,
        min_vins=t.min_vins,
        rate_ratio=t.rate_ratio,
        items=items,
    )


def components(
    session: Session, subject: AuthSubject, *, days: int, series_id: str | None, now: datetime
) -> ComponentList:
    repo = QualityRepository(session)
    since = now - timedelta(days=days)
    names = repo.series_names()
    rows = repo.component_counts(subject, since=since, until=now, series_id=series_id)
    items = [
        ComponentRow(series=names.get(r.series_id, ""), component=r.component, distinct_vins=r.distinct_vins)
        for r in rows
    ]
    return ComponentList(since=since, until=now, items=items)


def week_starts(now: datetime, weeks: int) -> list[datetime]:
    """Mondays 00:00 China time: this week's and the ``weeks - 1`` before it, oldest first."""
    today = now.astimezone(CHINA_TZ).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    return [datetime.combine(day, time(), CHINA_TZ) for day in days]


def trend(
    session: Session,
    subject: AuthSubject,
    *,
    weeks: int,
    series_id: str | None,
    series_name: str | None,
    now: datetime,
) -> TrendRead:
    """Distinct cars per week for each component that had any, the most affected component first."""
    starts = week_starts(now, weeks)
    counts = QualityRepository(session).weekly_counts(
        subject, week_starts=starts, until=now, series_id=series_id
    )
    per_component: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    for (week, component), cars in counts.items():
        per_component[component][week] = cars
    lines = [TrendLine(component=c, distinct_vins=v) for c, v in per_component.items()]
    lines.sort(key=lambda line: (-sum(line.distinct_vins), line.component))
    return TrendRead(weeks=[start.date() for start in starts], series=series_name, lines=lines)


def affected_vehicles(cases: Iterable[AffectedCase]) -> list[AffectedVehicleRead]:
    """Cases grouped by car; the car with the newest case first."""
    grouped: dict[str, list[AffectedCase]] = defaultdict(list)
    for item in cases:
        grouped[item.vin].append(item)
    return [
        AffectedVehicleRead(
            vin=vin,
            cases=[
                AffectedCaseRead(
                    id=c.case_id,
                    created_at=c.created_at,
                    dealer_code=c.dealer_code,
                    status=c.status,
                    title=c.title,
                )
                for c in items
            ],
        )
        for vin, items in grouped.items()
    ]


def cluster_vehicles(
    session: Session, subject: AuthSubject, key: ClusterKey, *, days: int, now: datetime
) -> ClusterVehicles:
    repo = QualityRepository(session)
    since = now - timedelta(days=days)
    cases = repo.affected_cases(subject, key, since=since, until=now)
    return ClusterVehicles(
        series=repo.series_names().get(key.series_id, ""),
        component=key.component,
        symptom=key.symptom or None,
        since=since,
        until=now,
        vehicles=affected_vehicles(cases),
    )


def alert_reads(session: Session, alerts: list[DefectAlert]) -> list[AlertRead]:
    names = QualityRepository(session).series_names() if alerts else {}
    people = StaffRepository(session).usernames(
        {a.acknowledged_by_id for a in alerts if a.acknowledged_by_id}
    )
    return [
        AlertRead(
            id=a.id,
            series=names.get(a.series_id, ""),
            component=a.component,
            symptom=a.symptom or None,
            status=AlertStatus(a.status),
            first_raised_at=a.first_raised_at,
            last_seen_at=a.last_seen_at,
            window_days=a.window_days,
            distinct_vins=a.distinct_vins,
            rate_per_day=a.rate_per_day,
            baseline_per_day=a.baseline_per_day,
            acknowledged_by=people.get(a.acknowledged_by_id or ""),
            note=a.note,
        )
        for a in alerts
    ]


def alert_key(alert: DefectAlert) -> ClusterKey:
    return ClusterKey(alert.series_id, alert.component, alert.symptom)


def alert_detail(session: Session, subject: AuthSubject, alert: DefectAlert, *, now: datetime) -> AlertDetail:
    """The alert with the cars affected in its window up to now."""
    since = now - timedelta(days=alert.window_days)
    cases = QualityRepository(session).affected_cases(subject, alert_key(alert), since=since, until=now)
    (read,) = alert_reads(session, [alert])
    return AlertDetail(**read.model_dump(), vehicles=affected_vehicles(cases))
