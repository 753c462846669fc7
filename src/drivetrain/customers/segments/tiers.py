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
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import Select
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.segments import repository as queries
from drivetrain.customers.segments.models import SegmentSetting
from drivetrain.customers.segments.repository import Candidates, SegmentRepository

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
    stored = SegmentRepository(session).setting(SETTING_KEY)
    return TierBins.model_validate(stored.value) if stored else TierBins()


def save_bins(session: Session, subject: AuthSubject, bins: TierBins) -> TierBins:
    stored = SegmentRepository(session).setting(SETTING_KEY)
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


def sync_tiers(session: Session, bins: TierBins, *, now: datetime, candidates: Candidates) -> int:
    """Recompute the value rows of the candidate customers in one delete and one insert-from-select;
    the number of rows written."""
    return SegmentRepository(session).sync_values(
        now=now,
        window=timedelta(days=bins.window_days),
        recency=[timedelta(days=d) for d in bins.recency_days],
        frequency_edges=bins.frequency,
        monetary_edges=bins.monetary,
        tiers=[
            (bins.platinum_min, Tier.PLATINUM.value),
            (bins.gold_min, Tier.GOLD.value),
            (bins.silver_min, Tier.SILVER.value),
        ],
        lowest=Tier.STANDARD.value,
        candidates=candidates,
    )


def window_crossers(bins: TierBins, since: datetime, now: datetime) -> list[Select[Any]]:
    """Customers whose scores may have changed only because time passed: an activity crossing a
    recency edge or leaving the frequency/monetary window."""
    if since >= now:
        return []
    windows = [timedelta(days=d) for d in (*bins.recency_days, bins.window_days)]
    return [queries.activity_crossing(since, now, windows)]


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
    rows = SegmentRepository(session).values_of(customer_ids)
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
    counts = {tier.value: 0 for tier in Tier}
    counts.update(SegmentRepository(session).tier_counts(readable))
    return counts
