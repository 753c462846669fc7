"""Value tiers by RFM: how recently a customer bought or came for service, how often, and how much they
spent, each scored against HQ's bin edges and summed into a tier.

Scores: each list of edges is strictly ascending; a customer scores one point per edge reached —
recency: per edge ``d`` with the last purchase or service visit at most ``d`` days ago; frequency: per
edge ``n`` with at least ``n`` of them in the last ``window_days``; monetary: per edge ``y`` with at
least ``y`` yuan (the events' ``amount``) in that window. The sum picks the tier: 铂金 platinum from
``platinum_min``, 金 gold from ``gold_min``, 银 silver from ``silver_min``, else 普通 standard.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import reduce
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import ColumnElement, Select, case, delete, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer, TimelineEvent
from drivetrain.customers.segments.models import CustomerValue, SegmentSetting
from drivetrain.db import UTCDateTime

ACTIVITY_KINDS = ("purchase", "service_visit")
SETTING_KEY = "tiers"


class Tier(StrEnum):
    PLATINUM = "platinum"
    GOLD = "gold"
    SILVER = "silver"
    STANDARD = "standard"


TIER_LABELS = {Tier.PLATINUM: "铂金", Tier.GOLD: "金", Tier.SILVER: "银", Tier.STANDARD: "普通"}


def _ascending(edges: list[Any]) -> list[Any]:
    if any(edge <= 0 for edge in edges):
        raise ValueError("edges must be above zero")
    if any(a >= b for a, b in pairwise(edges)):
        raise ValueError("edges must be strictly ascending")
    return edges


class TierBins(BaseModel):
    """HQ's bin edges and tier thresholds (the sum of the three scores)."""

    model_config = ConfigDict(extra="forbid")
    window_days: int = Field(default=730, ge=30, le=3650)
    recency_days: list[int] = Field(default_factory=lambda: [30, 90, 180, 365], min_length=1, max_length=9)
    frequency: list[int] = Field(default_factory=lambda: [1, 2, 4, 8], min_length=1, max_length=9)
    monetary: list[float] = Field(
        default_factory=lambda: [1_000.0, 5_000.0, 20_000.0, 100_000.0], min_length=1, max_length=9
    )
    silver_min: int = Field(default=4, ge=1)
    # Checked when left out too: fewer edges sent can make a default threshold unreachable.
    gold_min: int = Field(default=7, ge=1, validate_default=True)
    platinum_min: int = Field(default=10, ge=1, validate_default=True)

    _edges = field_validator("recency_days", "frequency", "monetary")(_ascending)

    @field_validator("gold_min", "platinum_min")
    @classmethod
    def _above_lower_tier(cls, value: int, info: ValidationInfo) -> int:
        lower = {"gold_min": "silver_min", "platinum_min": "gold_min"}[str(info.field_name)]
        if lower in info.data and value <= info.data[lower]:
            raise ValueError(f"must be above {lower}")
        edges = [info.data.get(k) for k in ("recency_days", "frequency", "monetary")]
        most = sum(len(e) for e in edges if e is not None)
        if str(info.field_name) == "platinum_min" and None not in edges and value > most:
            raise ValueError(f"must be reachable: at most {most} points")
        return value


def load_bins(session: Session) -> TierBins:
    stored = session.get(SegmentSetting, SETTING_KEY)
    return TierBins.model_validate(stored.value) if stored else TierBins()


def save_bins(session: Session, subject: AuthSubject, bins: TierBins) -> TierBins:
    subject.require(Permission.SEGMENTS_CONFIGURE)
    stored = session.get(SegmentSetting, SETTING_KEY)
    before = stored.value if stored else TierBins().model_dump()
    if stored is None:
        stored = SegmentSetting(key=SETTING_KEY)
        session.add(stored)
    stored.value, stored.updated_by = bins.model_dump(), subject.user_id or None
    session.flush()
    audit.record(
        session,
        subject,
        action="segments.tiers",
        entity_type="segment_setting",
        entity_id=SETTING_KEY,
        changes=audit.diff(before, bins.model_dump()),
    )
    return bins


def _points(conditions: list[ColumnElement[bool]]) -> ColumnElement[int]:
    return reduce(lambda a, b: a + b, [case((c, 1), else_=0) for c in conditions])


def sync_tiers(session: Session, bins: TierBins, *, now: datetime, candidates: Select[Any]) -> int:
    """Recompute the value rows of the candidate customers in one delete and one insert-from-select;
    the number of rows written."""
    in_window = TimelineEvent.at >= now - timedelta(days=bins.window_days)
    activity = select(
        TimelineEvent.customer_id.label("customer_id"),
        func.max(TimelineEvent.at).label("last_at"),
        func.sum(case((in_window, 1), else_=0)).label("frequency"),
        func.sum(case((in_window, TimelineEvent.detail["amount"].as_float()), else_=None)).label("spend"),
    ).where(TimelineEvent.kind.in_(ACTIVITY_KINDS), TimelineEvent.customer_id.in_(candidates))
    customers = select(Customer.id).where(Customer.merged_into_id.is_(None), Customer.id.in_(candidates))
    stale = delete(CustomerValue).where(CustomerValue.customer_id.in_(candidates))
    act = activity.group_by(TimelineEvent.customer_id).subquery()
    frequency, spend = func.coalesce(act.c.frequency, 0), func.coalesce(act.c.spend, 0.0)
    scored = (
        customers.add_columns(
            act.c.last_at,
            frequency.label("frequency"),
            spend.label("monetary"),
            _points([act.c.last_at >= now - timedelta(days=d) for d in bins.recency_days]).label("r"),
            _points([frequency >= n for n in bins.frequency]).label("f"),
            _points([spend >= y for y in bins.monetary]).label("m"),
        )
        .outerjoin(act, act.c.customer_id == Customer.id)
        .subquery()
    )
    total = scored.c.r + scored.c.f + scored.c.m
    tier = case(
        (total >= bins.platinum_min, Tier.PLATINUM.value),
        (total >= bins.gold_min, Tier.GOLD.value),
        (total >= bins.silver_min, Tier.SILVER.value),
        else_=Tier.STANDARD.value,
    )
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
    session.execute(stale)
    session.execute(
        insert(CustomerValue).from_select(
            [
                "customer_id",
                "last_activity_at",
                "frequency",
                "monetary",
                "r_score",
                "f_score",
                "m_score",
                "tier",
                "computed_at",
            ],
            rows,
        )
    )
    written = select(func.count()).select_from(CustomerValue).where(CustomerValue.customer_id.in_(candidates))
    return session.scalar(written) or 0  # counted: psycopg's rowcount is -1 for INSERT … SELECT


def window_crossers(bins: TierBins, since: datetime, now: datetime) -> list[Select[Any]]:
    """Customers whose scores may have changed only because time passed: an activity crossing a
    recency edge or leaving the frequency/monetary window."""
    if since >= now:
        return []
    crossings = [
        TimelineEvent.at.between(since - timedelta(days=d), now - timedelta(days=d))
        for d in (*bins.recency_days, bins.window_days)
    ]
    return [select(TimelineEvent.customer_id).where(TimelineEvent.kind.in_(ACTIVITY_KINDS), or_(*crossings))]


class ValueTierRead(BaseModel):
    """A customer's value tier as the API and the console show it."""

    tier: Tier = Field(description="platinum 铂金 | gold 金 | silver 银 | standard 普通")
    label: str
    r_score: int
    f_score: int
    m_score: int
    frequency: int = Field(description="Purchases and service visits in the tier window")
    monetary: float = Field(description="Their amount in yuan, in the tier window")
    last_activity_at: datetime | None
    computed_at: datetime


def tiers_of(session: Session, customer_ids: list[str]) -> dict[str, ValueTierRead]:
    """The stored tier of customers already read in scope (none before their first recompute)."""
    rows = session.scalars(select(CustomerValue).where(CustomerValue.customer_id.in_(customer_ids)))
    return {
        v.customer_id: ValueTierRead(
            tier=Tier(v.tier),
            label=TIER_LABELS[Tier(v.tier)],
            last_activity_at=v.last_activity_at,
            frequency=v.frequency,
            monetary=v.monetary,
            r_score=v.r_score,
            f_score=v.f_score,
            m_score=v.m_score,
            computed_at=v.computed_at,
        )
        for v in rows
    }


def tier_counts(session: Session, readable: Select[Any]) -> dict[str, int]:
    """Customers per tier among the ``readable`` ones (an id select); every tier present."""
    rows = session.execute(
        select(CustomerValue.tier, func.count())
        .where(CustomerValue.customer_id.in_(readable))
        .group_by(CustomerValue.tier)
    )
    counts = {tier.value: 0 for tier in Tier}
    counts.update({tier: int(n) for tier, n in rows})
    return counts
