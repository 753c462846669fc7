"""All quality queries. Numbers about cases start from ``CaseRepository.readable(subject)``, so a dealer
sees the clusters of its own cases; alerts are HQ-level objects, visible to scope-all subjects only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, case, false, func, select, tuple_

from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.classify import Category
from drivetrain.cases.models import Case
from drivetrain.cases.repository import CaseRepository
from drivetrain.customers.models import Vehicle
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Dealer, Series
from drivetrain.quality.models import AlertStatus, DefectAlert
from drivetrain.quality.signals import ClusterCount, ClusterKey

PRODUCT_COMPONENTS: tuple[Category, ...] = (
    Category.ENGINE,
    Category.TRANSMISSION,
    Category.STEERING,
    Category.BRAKES,
    Category.TYRES_WHEELS,
    Category.SUSPENSION,
    Category.BODY_ELECTRICAL,
    Category.BATTERY_CHARGING,
    Category.INFOTAINMENT_SOFTWARE,
    Category.ADAS,
)
"""The categories that are about the car itself; the rest (sales, delivery, staff …) are no defect."""
MAX_AFFECTED_CASES = 500
SERIES_NAMES = "quality.series_names"
STATUS_ORDER = {AlertStatus.OPEN: 0, AlertStatus.ACKNOWLEDGED: 1, AlertStatus.CLOSED: 2}


@dataclass(frozen=True)
class AffectedCase:
    case_id: str
    vehicle_id: str
    vin: str
    created_at: datetime
    dealer_code: str | None
    status: str
    title: str


@dataclass(frozen=True)
class ComponentCount:
    series_id: str
    component: str
    distinct_vins: int


def _cluster_condition(key: ClusterKey) -> ColumnElement[bool]:
    symptom = Case.symptom.is_(None) if key.symptom == "" else Case.symptom == key.symptom
    return (Case.series_id == key.series_id) & (Case.category == key.component) & symptom


class QualityRepository(Repository[DefectAlert]):
    """Alerts (its model, HQ-level) and the numbers counted from the subject's cases."""

    model = DefectAlert
    missing = "no such alert"

    # ------------------------------------------------------------ case-derived numbers

    def product_cases(self, subject: AuthSubject, *, series_id: str | None = None) -> Select[Case]:
        """The subject's cases about a known car's own parts; praise is no defect, so positive ones drop.

        Every such case names its car (the series comes from the linked vehicle), so distinct
        ``vehicle_id`` is distinct VIN, also for cases that found the car by its plate."""
        stmt = (
            CaseRepository(self.session)
            .readable(subject)
            .where(
                Case.series_id.is_not(None),
                Case.vehicle_id.is_not(None),
                Case.category.in_([c.value for c in PRODUCT_COMPONENTS]),
                Case.sentiment <= 0,
            )
        )
        return stmt if series_id is None else stmt.where(Case.series_id == series_id)

    def cluster_counts(
        self,
        subject: AuthSubject,
        *,
        window_start: datetime,
        baseline_start: datetime,
        until: datetime,
        series_id: str | None = None,
    ) -> list[ClusterCount]:
        """Per (series, component, symptom) with cases in ``(window_start, until]``: distinct cars and cases
        there, and distinct cars in ``(baseline_start, window_start]``. One query."""
        in_window = Case.created_at > window_start
        window_cases = func.count(case((in_window, Case.id)))
        stmt = (
            self.product_cases(subject, series_id=series_id)
            .where(Case.created_at > baseline_start, Case.created_at <= until)
            .with_only_columns(
                Case.series_id,
                Case.category,
                Case.symptom,
                func.count(case((in_window, Case.vehicle_id)).distinct()).label("window_vins"),
                window_cases.label("window_cases"),
                func.count(case((~in_window, Case.vehicle_id)).distinct()).label("baseline_vins"),
                func.max(Case.created_at).label("last_case_at"),
            )
            .group_by(Case.series_id, Case.category, Case.symptom)
            .having(window_cases > 0)
        )
        return [
            ClusterCount(
                key=ClusterKey(str(row.series_id), row.category, row.symptom or ""),
                window_vins=row.window_vins,
                window_cases=row.window_cases,
                baseline_vins=row.baseline_vins,
                last_case_at=row.last_case_at,
            )
            for row in self.session.execute(stmt)
        ]

    def component_counts(
        self, subject: AuthSubject, *, since: datetime, until: datetime, series_id: str | None = None
    ) -> list[ComponentCount]:
        """Distinct cars per (series, component) with cases in ``(since, until]``, most first."""
        cars = func.count(Case.vehicle_id.distinct())
        stmt = (
            self.product_cases(subject, series_id=series_id)
            .where(Case.created_at > since, Case.created_at <= until)
            .with_only_columns(Case.series_id, Case.category, cars)
            .group_by(Case.series_id, Case.category)
            .order_by(cars.desc(), Case.series_id, Case.category)
        )
        return [ComponentCount(str(s), c, n) for s, c, n in self.session.execute(stmt)]

    def weekly_counts(
        self,
        subject: AuthSubject,
        *,
        week_starts: list[datetime],
        until: datetime,
        series_id: str | None = None,
    ) -> dict[tuple[int, str], int]:
        """Distinct cars per (week number, component); week ``n`` runs from ``week_starts[n]`` to the next
        start (the last one up to ``until``). One query: the week is a CASE over the starts."""
        week = case(
            *((Case.created_at >= start, n) for n, start in reversed(list(enumerate(week_starts)))),
            else_=0,
        ).label("week")
        rows = (
            self.product_cases(subject, series_id=series_id)
            .where(Case.created_at >= week_starts[0], Case.created_at <= until)
            .with_only_columns(week, Case.category.label("component"), Case.vehicle_id.label("vehicle_id"))
            .subquery()
        )
        stmt = select(rows.c.week, rows.c.component, func.count(rows.c.vehicle_id.distinct())).group_by(
            rows.c.week, rows.c.component
        )
        return {(int(n), component): cars for n, component, cars in self.session.execute(stmt)}

    def affected_cases(
        self, subject: AuthSubject, key: ClusterKey, *, since: datetime, until: datetime
    ) -> list[AffectedCase]:
        """The cluster's cases in ``(since, until]`` with their car's VIN, newest first (at most 500)."""
        stmt = (
            self.product_cases(subject)
            .where(_cluster_condition(key), Case.created_at > since, Case.created_at <= until)
            .with_only_columns(
                Case.id, Case.vehicle_id, Vehicle.vin, Case.created_at, Dealer.code, Case.status, Case.title
            )
            .join_from(Case, Vehicle, Vehicle.id == Case.vehicle_id)
            .outerjoin_from(Case, Dealer, Dealer.id == Case.dealer_id)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(MAX_AFFECTED_CASES)
        )
        return [
            AffectedCase(str(case_id), str(vehicle_id), vin, created_at, dealer_code, status, title)
            for case_id, vehicle_id, vin, created_at, dealer_code, status, title in self.session.execute(stmt)
        ]

    # ------------------------------------------------------------ the series catalogue

    def series_names(self) -> dict[str, str]:
        """Every series, id → name: catalogue data, the same for everyone; read once per session, as a
        page asks for it for each of its parts."""
        names: dict[str, str] | None = self.session.info.get(SERIES_NAMES)
        if names is None:
            names = dict(self.session.execute(select(Series.id, Series.name)).all())
            self.session.info[SERIES_NAMES] = names
        return names

    def series_id_of(self, name: str) -> str | None:
        return self.session.scalar(select(Series.id).where(Series.name == name).order_by(Series.id).limit(1))

    # ------------------------------------------------------------ alerts

    def readable(self, subject: AuthSubject) -> Select[DefectAlert]:
        """Alerts count every dealer's cases, so only a subject who sees every case sees them."""
        stmt = select(DefectAlert)
        return stmt if subject.is_hq else stmt.where(false())

    def alerts(self, subject: AuthSubject, *, status: str | None = None) -> list[DefectAlert]:
        """Open first, then acknowledged, then closed; the most recently seen first within each."""
        stmt = self.readable(subject)
        if status is not None:
            stmt = stmt.where(DefectAlert.status == status)
        found = list(self.session.scalars(stmt.order_by(DefectAlert.last_seen_at.desc(), DefectAlert.id)))
        return sorted(found, key=lambda alert: STATUS_ORDER[AlertStatus(alert.status)])

    def alerts_of(self, keys: Iterable[ClusterKey]) -> dict[ClusterKey, DefectAlert]:
        """The alerts already raised for these clusters (the refresh job's own read: it acts for HQ)."""
        wanted = [(k.series_id, k.component, k.symptom) for k in keys]
        if not wanted:
            return {}
        stmt = select(DefectAlert).where(
            tuple_(DefectAlert.series_id, DefectAlert.component, DefectAlert.symptom).in_(wanted)
        )
        return {ClusterKey(a.series_id, a.component, a.symptom): a for a in self.session.scalars(stmt)}

    def quality_engineers(self) -> list[tuple[str, str | None]]:
        """Active quality engineers, (user id, WeCom user id): who hears of a new emerging issue."""
        stmt = select(User.id, User.wecom_userid).where(
            User.role == Role.QUALITY_ENGINEER, User.active.is_(True)
        )
        return [(uid, wecom) for uid, wecom in self.session.execute(stmt.order_by(User.id))]
