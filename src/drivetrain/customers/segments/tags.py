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
from sqlalchemy import Select
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer, CustomerTag, Tag
from drivetrain.customers.segments import repository as queries
from drivetrain.customers.segments.models import RuleTag
from drivetrain.customers.segments.repository import Candidates, SegmentRepository
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput

"""Days (expiry, warranty end) are counted in China's calendar."""


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


def qualifying(params: RuleParams, now: datetime, *, among: Candidates) -> Select[Any]:
    """Which of the customers ``among`` hold the rule's tag at ``now`` (merged-away customers are
    dropped later); the scan is narrowed to them before any grouping."""
    today = local_day(now)
    if isinstance(params, NevOwnerParams):
        return queries.owners_of_powertrains(params.powertrains, among)
    if isinstance(params, InsuranceExpiringParams):
        return queries.insurance_expiring(today, today + timedelta(days=params.within_days), among)
    if isinstance(params, FrequentServiceParams):
        since = now - timedelta(days=params.window_days)
        return queries.frequent_visitors(since, params.min_visits, among)
    return queries.lapsed_owners(
        _warranty_cutoff(params, today), params.warranty_km, now - timedelta(days=params.idle_days), among
    )


def _warranty_cutoff(params: LapsedAfterWarrantyParams, today: date) -> date:
    """Cars bought on or before this day have been out of warranty for ``idle_days`` by ``today``."""
    return years_before(today - timedelta(days=params.idle_days), params.warranty_years)


def window_crossers(params: RuleParams, since: datetime, now: datetime) -> list[Select[Any]]:
    """Customers whose state under the rule may have changed only because time went from ``since``
    to ``now``: a superset is harmless (they are recomputed), a miss is not."""
    if isinstance(params, NevOwnerParams) or since >= now:
        return []
    before, today = local_day(since), local_day(now)
    if isinstance(params, InsuranceExpiringParams):
        ahead = timedelta(days=params.within_days)
        return [queries.expiries_crossing((before + ahead, today + ahead), (before, today))]
    days = params.window_days if isinstance(params, FrequentServiceParams) else params.idle_days
    visits_left = queries.visits_leaving(since, now, timedelta(days=days))
    if isinstance(params, FrequentServiceParams):
        return [visits_left]
    ended = queries.warranties_ending(_warranty_cutoff(params, before), _warranty_cutoff(params, today))
    return [visits_left, ended]


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
    repository = SegmentRepository(session)
    existing = repository.rule_tags()
    missing = [rule for rule in Rule if rule.value not in existing]
    if missing:
        tags = repository.tags_named([TAG_NAMES[r] for r in missing])
        for rule in missing:
            tag = tags.get(TAG_NAMES[rule]) or Tag(name=TAG_NAMES[rule])
            tag.kind = TagKind.RULE
            session.add(tag)
            session.flush()
            existing[rule.value] = RuleTag(rule=rule.value, tag_id=tag.id, params=PARAMS[rule]().model_dump())
            session.add(existing[rule.value])
        session.flush()
    names = repository.tag_names_of_kind(TagKind.RULE)
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
    ensure_rules(session)
    try:
        checked = PARAMS[rule].model_validate(params).model_dump()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(["params", *(str(part) for part in first["loc"])])
        raise InvalidInput(field, str(first["msg"])) from None
    row = SegmentRepository(session).rule_tag(rule.value)
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
    repository = SegmentRepository(session)
    added = removed = 0
    for config in rules:
        who = qualifying(config.params, now, among=candidates) if config.enabled else queries.nobody()
        more, fewer = repository.sync_tag(config.tag_id, who, now=now, candidates=candidates)
        added, removed = added + more, removed + fewer
    return added, removed


# --- manual tags ---------------------------------------------------------------------------------


def refuse_rule_tags(session: Session, names: list[str], field: str) -> None:
    """A 422 on ``field`` when a name belongs to a rule tag (rules alone set and clear those)."""
    ruled = SegmentRepository(session).first_named_of_kind(names, TagKind.RULE)
    if ruled is None:
        ruled = next((n for n in names if n in TAG_NAMES.values()), None)
    if ruled is not None:
        raise InvalidInput(field, f"{ruled} is a rule tag: its rule sets and clears it")


def add_manual_tags(
    session: Session, subject: AuthSubject, customer: Customer, names: list[str], *, audited: bool = True
) -> list[str]:
    """Tag a customer by hand; the names newly added (audited, unless the caller audits the whole
    change, as creating a customer does). A rule tag's name is refused."""
    refuse_rule_tags(session, names, "tags")
    repository = SegmentRepository(session)
    ids = repository.tag_ids(names)
    for name in names:
        if name not in ids:
            tag = Tag(name=name, kind=TagKind.MANUAL)
            session.add(tag)
            session.flush()
            ids[name] = tag.id
    held = repository.held_tag_ids(customer.id)
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
    refuse_rule_tags(session, [name], "tag")
    link = SegmentRepository(session).link(customer.id, name)
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
    found: dict[str, list[tuple[str, str]]] = {}
    for customer_id, name, kind in SegmentRepository(session).tags_of(customer_ids):
        found.setdefault(customer_id, []).append((name, kind))
    return found


def tag_counts(session: Session, readable: Select[Any]) -> list[TagCount]:
    """Every tag with how many of the ``readable`` customers (an id select) hold it."""
    return [TagCount(name, kind, n) for name, kind, n in SegmentRepository(session).tag_counts(readable)]
