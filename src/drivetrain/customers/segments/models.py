"""Segmentation data: the rule tags' parameters, the value-tier bins, each customer's RFM tier, and the
watermark of the last recompute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin


class RuleTag(IdMixin, Base):
    """A tag that a rule sets and clears (``rule``: nev_owner, insurance_expiring …) with its parameters."""

    __tablename__ = "rule_tag"
    rule: Mapped[str] = mapped_column(String(40), unique=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("tag.id", ondelete="CASCADE"), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))


class SegmentSetting(Base):
    """One piece of HQ configuration by key (``tiers``: the RFM bin edges and tier thresholds)."""

    __tablename__ = "segment_setting"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))


class SegmentRun(Base):
    """Where the last recompute stopped: its clock time and the newest timeline event and ownership it saw.

    The next incremental run looks only at what changed after these, plus date windows crossed since
    ``as_of``; the guarded update of this row keeps two workers from running the same recompute.

    While ``full_cursor`` is set, a full recompute as of ``as_of`` is under way (or died half-way): the
    customers up to that id are done. It is claimed by ``claimed_by`` until ``claimed_until``."""

    __tablename__ = "segment_run"
    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    event_watermark: Mapped[str] = mapped_column(String(26), default="")
    ownership_watermark: Mapped[str] = mapped_column(String(26), default="")
    customers_touched: Mapped[int] = mapped_column(Integer, default=0)
    full_cursor: Mapped[str | None] = mapped_column(String(26))
    claimed_by: Mapped[str | None] = mapped_column(String(26))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SegmentCandidate(Base):
    """Scratch list of the customers one incremental run (or one chunk of a full run) recomputes, filled
    and emptied inside its transaction, so the query that finds them is evaluated once, not once per
    statement."""

    __tablename__ = "segment_candidate"
    customer_id: Mapped[str] = mapped_column(String(26), primary_key=True)


class CustomerValue(Base):
    """A customer's RFM numbers, scores and value tier, as of ``computed_at``."""

    __tablename__ = "customer_value"
    __table_args__ = (Index("ix_customer_value_tier", "tier"),)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    monetary: Mapped[float] = mapped_column(Float, default=0.0)
    r_score: Mapped[int] = mapped_column(Integer, default=0)
    f_score: Mapped[int] = mapped_column(Integer, default=0)
    m_score: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str] = mapped_column(String(10))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
