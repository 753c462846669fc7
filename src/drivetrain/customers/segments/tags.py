"""Tags: rule tags that the data sets and clears, and manual tags that staff add and remove.

A rule tag is configuration kept as data (``rule_tag``: which rule, its parameters, on or off) plus the
set-based SQL that says who qualifies. Each rule also says which customers may have changed state
merely because time passed (a policy's expiry entering the window, a visit leaving it), so the
incremental recompute (``segments.recompute``) looks at those and at customers whose data changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer, CustomerTag, Tag, TimelineEvent, Vehicle
from drivetrain.customers.segments.models import RuleTag
from drivetrain.db import UTCDateTime
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput
from drivetrain.org.models import Series

"""Days (expiry, warranty end) are counted in China's calendar."""

SERVICE_VISIT = "service_visit"
INSURANCE_POLICY = "insurance_policy"
Candidates = Select[Any] | CompoundSelect[Any]


class TagKind(StrEnum):
    MANUAL = "manual"
    RULE = "rule"


class Rule(StrEnum):
    NEV_OWNER = "nev_owner"
    INSURANCE_EXPIRING = "insurance_expiring"
    FREQUENT_SERVICE = "frequent_service"
    LAPSED_AFTER_WARRANTY = "lapsed_after_warranty"


class NevOwnerParams(BaseModel):
    """Owns a car whose series has one of these powertrains (新能源: battery-electric or plug-in)."""

    model_config = ConfigDict(extra="forbid")
    powertrains: list[Literal["bev", "phev", "hev", "ice"]] = Field(
        default=["bev", "phev"], min_length=1, max_length=4
    )


class InsuranceExpiringParams(BaseModel):
    """The customer's latest insurance policy expires within ``within_days`` days (today included)."""

    model_config = ConfigDict(extra="forbid")
    within_days: int = Field(default=30, ge=1, le=365)


class FrequentServiceParams(BaseModel):
    """``min_visits`` or more service visits within the last ``window_days`` days."""

    model_config = ConfigDict(extra="forbid")
    min_visits: int = Field(default=3, ge=1, le=100)
    window_days: int = Field(default=365, ge=7, le=1830)


class LapsedAfterWarrantyParams(BaseModel):
    """Owns a car out of warranty for at least ``idle_days`` (warranty: purchase date plus
    ``warranty_years``, or ``warranty_km`` on the odometer, whichever comes first; a car out by
    mileage counts at once) and has had no service visit in the last ``idle_days`` days."""

    model_config = ConfigDict(extra="forbid")
    warranty_years: int = Field(default=3, ge=1, le=15)
    warranty_km: int | None = Field(default=100_000, ge=1000, le=1_000_000)
    idle_days: int = Field(default=365, ge=30, le=1830)


RuleParams = NevOwnerParams | InsuranceExpiringParams | FrequentServiceParams | LapsedAfterWarrantyParams

PARAMS: dict[Rule, type[RuleParams]] = {
    Rule.NEV_OWNER: NevOwnerParams,
    Rule.INSURANCE_EXPIRING: InsuranceExpiringParams,
    Rule.FREQUENT_SERVICE: FrequentServiceParams,
    Rule.LAPSED_AFTER_WARRANTY: LapsedAfterWarrantyParams,
}
TAG_NAMES: dict[Rule, str] = {
    Rule.NEV_OWNER: "新能源车主",
    Rule.INSURANCE_EXPIRING: "保险即将到期",
    Rule.FREQUENT_SERVICE: "高频到店",
    Rule.LAPSED_AFTER_WARRANTY: "保修期后流失",
}


@dataclass(frozen=True)
class Moment:
    """The instant a recompute judges by, and its day in China."""

    now: datetime

    @property
    def today(self) -> date:
        return self.now.astimezone(CHINA_TZ).date()


def local_day(at: datetime) -> date:
    return at.astimezone(CHINA_TZ).date()


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# --- who qualifies ------------------------------------------------------------------------------


def _expires_on() -> ColumnElement[str]:
    """The day part of ``detail.expires_on`` (a full timestamp there still compares as its day)."""
    expires: ColumnElement[str] = func.substr(TimelineEvent.detail["expires_on"].as_string(), 1, 10)
    return expires


def qualifying(params: RuleParams, now: datetime, *, among: Candidates) -> Select[Any]:
    """Which of the customers ``among`` hold the rule's tag at ``now`` (merged-away customers are
    dropped later); the scan is narrowed to them before any grouping."""
    today = local_day(now)
    owners = Vehicle.owner_id.in_(among)
    events = TimelineEvent.customer_id.in_(among)
    if isinstance(params, NevOwnerParams):
        return (
            select(Vehicle.owner_id)
            .join(Series, Series.id == Vehicle.series_id)
            .where(owners, Series.powertrain.in_(params.powertrains))
        )
    if isinstance(params, InsuranceExpiringParams):
        last_expiry = func.max(_expires_on())
        return (
            select(TimelineEvent.customer_id)
            .where(events, TimelineEvent.kind == INSURANCE_POLICY, _expires_on().is_not(None))
            .group_by(TimelineEvent.customer_id)
            .having(
                last_expiry >= today.isoformat(),
                last_expiry <= (today + timedelta(days=params.within_days)).isoformat(),
            )
        )
    if isinstance(params, FrequentServiceParams):
        return (
            select(TimelineEvent.customer_id)
            .where(
                events,
                TimelineEvent.kind == SERVICE_VISIT,
                TimelineEvent.at > now - timedelta(days=params.window_days),
            )
            .group_by(TimelineEvent.customer_id)
            .having(func.count() >= params.min_visits)
        )
    # Not correlated: one pass over the recent visits, whichever index the planner picks.
    visited = select(TimelineEvent.customer_id).where(
        events,
        TimelineEvent.kind == SERVICE_VISIT,
        TimelineEvent.at > now - timedelta(days=params.idle_days),
    )
    return select(Vehicle.owner_id).where(
        owners, _out_of_warranty(params, today), Vehicle.owner_id.not_in(visited)
    )


def _warranty_cutoff(params: LapsedAfterWarrantyParams, today: date) -> date:
    """Cars bought on or before this day have been out of warranty for ``idle_days`` by ``today``."""
    return years_before(today - timedelta(days=params.idle_days), params.warranty_years)


def _out_of_warranty(params: LapsedAfterWarrantyParams, today: date) -> ColumnElement[bool]:
    by_date = Vehicle.purchase_date <= _warranty_cutoff(params, today)
    if params.warranty_km is None:
        return by_date
    return or_(by_date, Vehicle.mileage_km >= params.warranty_km)


def window_crossers(params: RuleParams, since: datetime, now: datetime) -> list[Select[Any]]:
    """Customers whose state under the rule may have changed only because time went from ``since``
    to ``now``: a superset is harmless (they are recomputed), a miss is not."""
    if isinstance(params, NevOwnerParams) or since >= now:
        return []
    before, today = local_day(since), local_day(now)
    if isinstance(params, InsuranceExpiringParams):
        ahead = timedelta(days=params.within_days)
        entered = and_(
            _expires_on() >= (before + ahead).isoformat(), _expires_on() <= (today + ahead).isoformat()
        )
        left = and_(_expires_on() >= before.isoformat(), _expires_on() <= today.isoformat())
        return [
            select(TimelineEvent.customer_id).where(
                TimelineEvent.kind == INSURANCE_POLICY, or_(entered, left)
            )
        ]
    days = params.window_days if isinstance(params, FrequentServiceParams) else params.idle_days
    visits_left = select(TimelineEvent.customer_id).where(
        TimelineEvent.kind == SERVICE_VISIT, _between(TimelineEvent.at, since, now, timedelta(days=days))
    )
    if isinstance(params, FrequentServiceParams):
        return [visits_left]
    warranty_ended = select(Vehicle.owner_id).where(
        Vehicle.owner_id.is_not(None),
        Vehicle.purchase_date >= _warranty_cutoff(params, before),
        Vehicle.purchase_date <= _warranty_cutoff(params, today),
    )
    return [visits_left, warranty_ended]


def _between(column: Any, since: datetime, now: datetime, back: timedelta) -> ColumnElement[bool]:
    """``column`` fell out of a window of length ``back`` between ``since`` and ``now``."""
    return and_(column >= since - back, column <= now - back)


# --- rule configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleConfig:
    rule: Rule
    tag_id: str
    tag_name: str
    enabled: bool
    params: RuleParams


def ensure_rules(session: Session) -> list[RuleConfig]:
    """Every rule with its tag, created with the defaults the first time (a manual tag that already
    bears a rule's name becomes that rule's tag: its links are recomputed from then on)."""
    existing = {r.rule: r for r in session.scalars(select(RuleTag))}
    missing = [rule for rule in Rule if rule.value not in existing]
    if missing:
        tags = {
            t.name: t
            for t in session.scalars(select(Tag).where(Tag.name.in_([TAG_NAMES[r] for r in missing])))
        }
        for rule in missing:
            tag = tags.get(TAG_NAMES[rule]) or Tag(name=TAG_NAMES[rule])
            tag.kind = TagKind.RULE
            session.add(tag)
            session.flush()
            existing[rule.value] = RuleTag(rule=rule.value, tag_id=tag.id, params=PARAMS[rule]().model_dump())
            session.add(existing[rule.value])
        session.flush()
    names = dict(session.execute(select(Tag.id, Tag.name).where(Tag.kind == TagKind.RULE)).all())
    return [
        RuleConfig(
            rule=rule,
            tag_id=existing[rule.value].tag_id,
            tag_name=names.get(existing[rule.value].tag_id, TAG_NAMES[rule]),
            enabled=existing[rule.value].enabled,
            params=PARAMS[rule].model_validate(existing[rule.value].params),
        )
        for rule in Rule
    ]


def update_rule(
    session: Session, subject: AuthSubject, rule: Rule, *, params: dict[str, Any], enabled: bool
) -> RuleConfig:
    """Change a rule's parameters (validated by its schema: a bad one is a 422 naming ``params.<field>``)."""
    subject.require(Permission.SEGMENTS_CONFIGURE)
    ensure_rules(session)
    try:
        checked = PARAMS[rule].model_validate(params).model_dump()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(["params", *(str(part) for part in first["loc"])])
        raise InvalidInput(field, str(first["msg"])) from None
    row = session.scalars(select(RuleTag).where(RuleTag.rule == rule.value)).one()
    before = {"params": row.params, "enabled": row.enabled}
    row.params, row.enabled, row.updated_by = checked, enabled, subject.user_id or None
    session.flush()
    audit.record(
        session,
        subject,
        action="segments.rule",
        entity_type="rule_tag",
        entity_id=row.id,
        changes=audit.diff(before, {"params": checked, "enabled": enabled}),
    )
    return next(c for c in ensure_rules(session) if c.rule == rule)


# --- applying the rules --------------------------------------------------------------------------


def sync_rule_tags(
    session: Session, rules: list[RuleConfig], *, now: datetime, candidates: Candidates
) -> tuple[int, int]:
    """Bring every rule tag in line for the candidate customers, in a pair of set-based statements
    per rule; (links added, links removed)."""
    added = removed = 0
    for config in rules:
        if config.enabled:
            who = qualifying(config.params, now, among=candidates)
        else:
            who = select(null()).where(false())
        target = select(Customer.id).where(
            Customer.merged_into_id.is_(None), Customer.id.in_(who), Customer.id.in_(candidates)
        )
        held = and_(CustomerTag.tag_id == config.tag_id, CustomerTag.customer_id.in_(candidates))
        # Counted, not taken from rowcount: psycopg reports -1 for an INSERT … SELECT.
        before = _count(session, held)
        session.execute(delete(CustomerTag).where(held, CustomerTag.customer_id.not_in(target)))
        kept = _count(session, held)
        already = select(CustomerTag.customer_id).where(held)
        fresh = target.where(Customer.id.not_in(already)).with_only_columns(
            Customer.id, literal(config.tag_id), literal(now, UTCDateTime()), null()
        )
        session.execute(
            insert(CustomerTag).from_select(["customer_id", "tag_id", "added_at", "added_by"], fresh)
        )
        added += _count(session, held) - kept
        removed += before - kept
    return added, removed


def _count(session: Session, held: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(CustomerTag).where(held)) or 0


# --- manual tags ---------------------------------------------------------------------------------


def refuse_rule_tags(session: Session, names: list[str], field: str) -> None:
    """A 422 on ``field`` when a name belongs to a rule tag (rules alone set and clear those)."""
    ruled = session.scalars(select(Tag.name).where(Tag.name.in_(names), Tag.kind == TagKind.RULE)).first()
    if ruled is None:
        ruled = next((n for n in names if n in TAG_NAMES.values()), None)
    if ruled is not None:
        raise InvalidInput(field, f"{ruled} is a rule tag: its rule sets and clears it")


def add_manual_tags(
    session: Session, subject: AuthSubject, customer: Customer, names: list[str], *, audited: bool = True
) -> list[str]:
    """Tag a customer by hand; the names newly added (audited, unless the caller audits the whole
    change, as creating a customer does). A rule tag's name is refused."""
    subject.require(Permission.CUSTOMERS_WRITE)
    refuse_rule_tags(session, names, "tags")
    ids = dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())
    for name in names:
        if name not in ids:
            tag = Tag(name=name, kind=TagKind.MANUAL)
            session.add(tag)
            session.flush()
            ids[name] = tag.id
    held = set(session.scalars(select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer.id)))
    new = [name for name in names if ids[name] not in held]
    session.add_all(
        CustomerTag(customer_id=customer.id, tag_id=ids[n], added_by=subject.user_id or None) for n in new
    )
    session.flush()
    if new and audited:
        audit.record(
            session,
            subject,
            action="customer.tag",
            entity_type="customer",
            entity_id=customer.id,
            dealer_id=customer.dealer_id,
            changes={"tags": [None, new]},
        )
    return new


def remove_manual_tag(session: Session, subject: AuthSubject, customer: Customer, name: str) -> bool:
    """Untag a customer (audited); False when it did not hold the tag. A rule tag is refused."""
    subject.require(Permission.CUSTOMERS_WRITE)
    refuse_rule_tags(session, [name], "tag")
    link = session.scalar(
        select(CustomerTag)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(CustomerTag.customer_id == customer.id, Tag.name == name)
    )
    if link is None:
        return False
    session.delete(link)
    session.flush()
    audit.record(
        session,
        subject,
        action="customer.untag",
        entity_type="customer",
        entity_id=customer.id,
        dealer_id=customer.dealer_id,
        changes={"tags": [name, None]},
    )
    return True


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagCount:
    name: str
    kind: str
    customers: int


def tags_of(session: Session, customer_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """``{customer_id: [(name, kind), …]}``, rule tags first, for customers already read in scope."""
    rows = session.execute(
        select(CustomerTag.customer_id, Tag.name, Tag.kind)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(CustomerTag.customer_id.in_(customer_ids))
        .order_by(Tag.kind.desc(), Tag.name)
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for customer_id, name, kind in rows:
        found.setdefault(customer_id, []).append((name, kind))
    return found


def tag_counts(session: Session, readable: Select[Any]) -> list[TagCount]:
    """Every tag with how many of the ``readable`` customers (an id select) hold it."""
    held = (
        select(CustomerTag.tag_id, func.count().label("n"))
        .where(CustomerTag.customer_id.in_(readable))
        .group_by(CustomerTag.tag_id)
        .subquery()
    )
    rows = session.execute(
        select(Tag.name, Tag.kind, func.coalesce(held.c.n, 0))
        .outerjoin(held, held.c.tag_id == Tag.id)
        .order_by(Tag.kind.desc(), Tag.name)
    )
    return [TagCount(name, kind, int(n)) for name, kind, n in rows]
