"""All segment queries: who qualifies for a rule tag, the value-tier scoring, the recompute's
bookkeeping, and the reads of tags and tiers.

The rules themselves (which parameters, which days, which edges) stay pure in ``tags`` and ``tiers``;
they hand this module plain values and get back statements or rows. The set-based statements run over
a candidate set (an id select), never a loop over customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drivetrain.customers.models import Customer, CustomerTag, Ownership, Tag, TimelineEvent, Vehicle
from drivetrain.customers.segments.models import (
    CustomerValue,
    RuleTag,
    SegmentCandidate,
    SegmentRun,
    SegmentSetting,
)
from drivetrain.db import UTCDateTime
from drivetrain.org.models import Series

Candidates = Select[Any] | CompoundSelect[Any]
SERVICE_VISIT = "service_visit"
INSURANCE_POLICY = "insurance_policy"
ACTIVITY_KINDS = ("purchase", "service_visit")
VALUE_COLUMNS = [
    "customer_id",
    "last_activity_at",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "tier",
    "computed_at",
]


# --- who qualifies for a rule tag ------------------------------------------------------------------


def _expires_on() -> ColumnElement[str]:
    """The day part of ``detail.expires_on`` (a full timestamp there still compares as its day)."""
    expires: ColumnElement[str] = func.substr(TimelineEvent.detail["expires_on"].as_string(), 1, 10)
    return expires


def nobody() -> Select[Any]:
    return select(null()).where(false())


def owners_of_powertrains(powertrains: Sequence[str], among: Candidates) -> Select[Any]:
    return (
        select(Vehicle.owner_id)
        .join(Series, Series.id == Vehicle.series_id)
        .where(Vehicle.owner_id.in_(among), Series.powertrain.in_(powertrains))
    )


def insurance_expiring(first: date, last: date, among: Candidates) -> Select[Any]:
    """Customers whose latest policy expires from ``first`` to ``last`` (China days, both included)."""
    last_expiry = func.max(_expires_on())
    return (
        select(TimelineEvent.customer_id)
        .where(
            TimelineEvent.customer_id.in_(among),
            TimelineEvent.kind == INSURANCE_POLICY,
            _expires_on().is_not(None),
        )
        .group_by(TimelineEvent.customer_id)
        .having(last_expiry >= first.isoformat(), last_expiry <= last.isoformat())
    )


def _visits_since(since: datetime, among: Candidates) -> Select[Any]:
    return select(TimelineEvent.customer_id).where(
        TimelineEvent.customer_id.in_(among),
        TimelineEvent.kind == SERVICE_VISIT,
        TimelineEvent.at > since,
    )


def frequent_visitors(since: datetime, min_visits: int, among: Candidates) -> Select[Any]:
    return _visits_since(since, among).group_by(TimelineEvent.customer_id).having(func.count() >= min_visits)


def lapsed_owners(
    bought_by: date, warranty_km: int | None, idle_since: datetime, among: Candidates
) -> Select[Any]:
    """Owners of a car bought on or before ``bought_by`` (or past ``warranty_km``) with no service
    visit after ``idle_since``."""
    out = Vehicle.purchase_date <= bought_by
    if warranty_km is not None:
        out = or_(out, Vehicle.mileage_km >= warranty_km)
    # Not correlated: one pass over the recent visits, whichever index the planner picks.
    visited = _visits_since(idle_since, among)
    return select(Vehicle.owner_id).where(Vehicle.owner_id.in_(among), out, Vehicle.owner_id.not_in(visited))


def _between(column: Any, since: datetime, now: datetime, back: timedelta) -> ColumnElement[bool]:
    """``column`` fell out of a window of length ``back`` between ``since`` and ``now``."""
    return and_(column >= since - back, column <= now - back)


def expiries_crossing(entered: tuple[date, date], left: tuple[date, date]) -> Select[Any]:
    """Customers with a policy expiring in either day range (both ends included)."""
    return select(TimelineEvent.customer_id).where(
        TimelineEvent.kind == INSURANCE_POLICY,
        or_(
            *(
                and_(_expires_on() >= a.isoformat(), _expires_on() <= b.isoformat())
                for a, b in (entered, left)
            )
        ),
    )


def visits_leaving(since: datetime, now: datetime, window: timedelta) -> Select[Any]:
    """Customers with a service visit that left a ``window``-long window between ``since`` and ``now``."""
    return select(TimelineEvent.customer_id).where(
        TimelineEvent.kind == SERVICE_VISIT, _between(TimelineEvent.at, since, now, window)
    )


def warranties_ending(first: date, last: date) -> Select[Any]:
    """Owners of a car bought from ``first`` to ``last``."""
    return select(Vehicle.owner_id).where(
        Vehicle.owner_id.is_not(None), Vehicle.purchase_date >= first, Vehicle.purchase_date <= last
    )


def activity_crossing(since: datetime, now: datetime, windows: Sequence[timedelta]) -> Select[Any]:
    """Customers with a purchase or visit crossing one of the ``windows`` edges since ``since``."""
    crossings = [TimelineEvent.at.between(since - back, now - back) for back in windows]
    return select(TimelineEvent.customer_id).where(TimelineEvent.kind.in_(ACTIVITY_KINDS), or_(*crossings))


def _points(conditions: list[ColumnElement[bool]]) -> ColumnElement[int]:
    return reduce(lambda a, b: a + b, [case((c, 1), else_=0) for c in conditions])


class SegmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- rule tags ------------------------------------------------------------------------------

    def rule_tags(self) -> dict[str, RuleTag]:
        return {r.rule: r for r in self.session.scalars(select(RuleTag))}

    def rule_tag(self, rule: str) -> RuleTag:
        return self.session.scalars(select(RuleTag).where(RuleTag.rule == rule)).one()

    def tags_named(self, names: Sequence[str]) -> dict[str, Tag]:
        return {t.name: t for t in self.session.scalars(select(Tag).where(Tag.name.in_(names)))}

    def tag_names_of_kind(self, kind: str) -> dict[str, str]:
        """``{tag_id: name}`` of the tags of this kind."""
        return dict(self.session.execute(select(Tag.id, Tag.name).where(Tag.kind == kind)).all())

    def first_named_of_kind(self, names: Sequence[str], kind: str) -> str | None:
        return self.session.scalars(select(Tag.name).where(Tag.name.in_(names), Tag.kind == kind)).first()

    def tag_ids(self, names: Sequence[str]) -> dict[str, str]:
        return dict(self.session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())

    def held_tag_ids(self, customer_id: str) -> set[str]:
        stmt = select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer_id)
        return set(self.session.scalars(stmt))

    def link(self, customer_id: str, name: str) -> CustomerTag | None:
        return self.session.scalar(
            select(CustomerTag)
            .join(Tag, Tag.id == CustomerTag.tag_id)
            .where(CustomerTag.customer_id == customer_id, Tag.name == name)
        )

    def sync_tag(
        self, tag_id: str, who: Select[Any], *, now: datetime, candidates: Candidates
    ) -> tuple[int, int]:
        """Link ``tag_id`` to exactly the live candidates in ``who``, in a pair of set-based
        statements; (links added, links removed)."""
        target = select(Customer.id).where(
            Customer.merged_into_id.is_(None), Customer.id.in_(who), Customer.id.in_(candidates)
        )
        held = and_(CustomerTag.tag_id == tag_id, CustomerTag.customer_id.in_(candidates))
        # Counted, not taken from rowcount: psycopg reports -1 for an INSERT … SELECT.
        before = self._count_links(held)
        self.session.execute(delete(CustomerTag).where(held, CustomerTag.customer_id.not_in(target)))
        kept = self._count_links(held)
        already = select(CustomerTag.customer_id).where(held)
        fresh = target.where(Customer.id.not_in(already)).with_only_columns(
            Customer.id, literal(tag_id), literal(now, UTCDateTime()), null()
        )
        self.session.execute(
            insert(CustomerTag).from_select(["customer_id", "tag_id", "added_at", "added_by"], fresh)
        )
        return self._count_links(held) - kept, before - kept

    def _count_links(self, held: ColumnElement[bool]) -> int:
        return self.session.scalar(select(func.count()).select_from(CustomerTag).where(held)) or 0

    def tags_of(self, customer_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(customer id, tag name, tag kind), rule tags first."""
        rows = self.session.execute(
            select(CustomerTag.customer_id, Tag.name, Tag.kind)
            .join(Tag, Tag.id == CustomerTag.tag_id)
            .where(CustomerTag.customer_id.in_(customer_ids))
            .order_by(Tag.kind.desc(), Tag.name)
        )
        return [(customer_id, name, kind) for customer_id, name, kind in rows]

    def tag_counts(self, readable: Select[Any]) -> list[tuple[str, str, int]]:
        """Every tag (name, kind) with how many of the ``readable`` customers (an id select) hold it."""
        held = (
            select(CustomerTag.tag_id, func.count().label("n"))
            .where(CustomerTag.customer_id.in_(readable))
            .group_by(CustomerTag.tag_id)
            .subquery()
        )
        rows = self.session.execute(
            select(Tag.name, Tag.kind, func.coalesce(held.c.n, 0))
            .outerjoin(held, held.c.tag_id == Tag.id)
            .order_by(Tag.kind.desc(), Tag.name)
        )
        return [(name, kind, int(n)) for name, kind, n in rows]

    # --- value tiers ----------------------------------------------------------------------------

    def setting(self, key: str) -> SegmentSetting | None:
        return self.session.get(SegmentSetting, key)

    def sync_values(
        self,
        *,
        now: datetime,
        window: timedelta,
        recency: Sequence[timedelta],
        frequency_edges: Sequence[int],
        monetary_edges: Sequence[float],
        tiers: Sequence[tuple[int, str]],
        lowest: str,
        candidates: Candidates,
    ) -> int:
        """Recompute the value rows of the candidate customers in one delete and one insert-from-select:
        one point per edge reached, the sum's first tier (``tiers``: (minimum, tier), highest first),
        else ``lowest``; the number of rows written."""
        in_window = TimelineEvent.at >= now - window
        activity = select(
            TimelineEvent.customer_id.label("customer_id"),
            func.max(TimelineEvent.at).label("last_at"),
            func.sum(case((in_window, 1), else_=0)).label("frequency"),
            func.sum(case((in_window, TimelineEvent.detail["amount"].as_float()), else_=None)).label("spend"),
        ).where(TimelineEvent.kind.in_(ACTIVITY_KINDS), TimelineEvent.customer_id.in_(candidates))
        customers = select(Customer.id).where(Customer.merged_into_id.is_(None), Customer.id.in_(candidates))
        act = activity.group_by(TimelineEvent.customer_id).subquery()
        frequency, spend = func.coalesce(act.c.frequency, 0), func.coalesce(act.c.spend, 0.0)
        scored = (
            customers.add_columns(
                act.c.last_at,
                frequency.label("frequency"),
                spend.label("monetary"),
                _points([act.c.last_at >= now - back for back in recency]).label("r"),
                _points([frequency >= n for n in frequency_edges]).label("f"),
                _points([spend >= y for y in monetary_edges]).label("m"),
            )
            .outerjoin(act, act.c.customer_id == Customer.id)
            .subquery()
        )
        total = scored.c.r + scored.c.f + scored.c.m
        tier = case(*((total >= minimum, name) for minimum, name in tiers), else_=lowest)
        rows = select(
            scored.c.id,
            scored.c.last_at,
            scored.c.frequency,
            scored.c.monetary,
            scored.c.r,
            scored.c.f,
            scored.c.m,
            tier,
            literal(now, UTCDateTime()),
        )
        self.session.execute(delete(CustomerValue).where(CustomerValue.customer_id.in_(candidates)))
        self.session.execute(insert(CustomerValue).from_select(VALUE_COLUMNS, rows))
        written = (
            select(func.count()).select_from(CustomerValue).where(CustomerValue.customer_id.in_(candidates))
        )
        return self.session.scalar(written) or 0  # counted: psycopg's rowcount is -1 for INSERT … SELECT

    def values_of(self, customer_ids: Sequence[str]) -> list[CustomerValue]:
        stmt = select(CustomerValue).where(CustomerValue.customer_id.in_(customer_ids))
        return list(self.session.scalars(stmt))

    def tier_counts(self, readable: Select[Any]) -> dict[str, int]:
        """Customers per stored tier among the ``readable`` ones (an id select)."""
        rows = self.session.execute(
            select(CustomerValue.tier, func.count())
            .where(CustomerValue.customer_id.in_(readable))
            .group_by(CustomerValue.tier)
        )
        return {tier: int(n) for tier, n in rows}


class SegmentRunRepository:
    """The recompute's bookkeeping: its ``segment_run`` row (watermarks, cursor, claim), guarded
    updates of it, and the scratch list of candidates."""

    def __init__(self, session: Session, key: str) -> None:
        self.session = session
        self.key = key

    def current(self, *, fresh: bool = False) -> SegmentRun | None:
        if fresh:
            return self.session.get(SegmentRun, self.key, populate_existing=True)
        return self.session.get(SegmentRun, self.key)

    def changed_since(self, as_of: datetime, event_floor: str, ownership_floor: str) -> list[Select[Any]]:
        """Customers with a timeline event or an ownership newer than the floors, a car or a record
        changed after ``as_of``, or a car that changed hands (old owners too)."""
        resold = select(Ownership.vehicle_id).where(Ownership.id > ownership_floor)
        cars = select(Vehicle.id).where(or_(Vehicle.updated_at > as_of, Vehicle.id.in_(resold)))
        return [
            select(TimelineEvent.customer_id).where(TimelineEvent.id > event_floor),
            select(Vehicle.owner_id).where(Vehicle.id.in_(cars), Vehicle.owner_id.is_not(None)),
            select(Ownership.customer_id).where(Ownership.vehicle_id.in_(cars)),
            select(Customer.id).where(Customer.updated_at > as_of),
        ]

    def watermarks(self) -> tuple[str, str]:
        """The newest timeline event's id and the newest ownership's ("" when none)."""
        events = self.session.scalar(select(func.max(TimelineEvent.id))) or ""
        ownerships = self.session.scalar(select(func.max(Ownership.id))) or ""
        return events, ownerships

    def create(self, values: dict[str, Any]) -> bool:
        """The row, unless another worker's first run created it first."""
        try:
            with self.session.begin_nested():
                self.session.execute(insert(SegmentRun).values(key=self.key, **values))
        except IntegrityError:
            return False
        return True

    def guarded_update(self, *where: ColumnElement[bool], **values: Any) -> bool:
        """Set ``values`` if the row still matches ``where``; False when another run moved it first."""
        moved = self.session.execute(
            update(SegmentRun)
            .where(SegmentRun.key == self.key, *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(moved.rowcount)  # type: ignore[attr-defined]

    def fill_candidates(self, candidates: Candidates) -> int:
        """The scratch list holds exactly ``candidates``; how many."""
        self.session.execute(delete(SegmentCandidate))
        self.session.execute(insert(SegmentCandidate).from_select(["customer_id"], candidates))
        return self.session.scalar(select(func.count()).select_from(SegmentCandidate)) or 0

    def clear_candidates(self) -> None:
        self.session.execute(delete(SegmentCandidate))

    def chunk_end(self, after: str, size: int) -> str | None:
        """The id closing the next chunk: the ``size``-th customer after ``after``, or the last."""
        ids = select(Customer.id).where(Customer.id > after).order_by(Customer.id).limit(size)
        end: str | None = self.session.scalar(select(func.max(ids.subquery().c.id)))
        return end


def candidate_ids() -> Select[Any]:
    return select(SegmentCandidate.customer_id)


def customers_between(after: str, last: str) -> Select[Any]:
    return select(Customer.id).where(Customer.id > after, Customer.id <= last)


def every_customer() -> Select[Any]:
    return select(Customer.id)
