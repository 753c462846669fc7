"""Leads, their touches (the conversion path), history, follow-ups, routing state and channel spend."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin, TimestampMixin

if TYPE_CHECKING:
    from drivetrain.customers.models import Customer


class Channel(StrEnum):
    AD = "ad"
    WEBSITE = "website"
    WEIBO = "weibo"
    WECOM = "wecom"
    MINI_PROGRAM = "mini_program"
    HOTLINE = "hotline"
    EVENT = "event"
    LIVE_STREAM = "live_stream"
    REFERRAL = "referral"
    WALK_IN = "walk_in"
    EXEC_SOCIAL = "exec_social"
    TEST_DRIVE_FORM = "test_drive_form"


class Stage(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    TEST_DRIVE_SCHEDULED = "test_drive_scheduled"
    TEST_DRIVE_DONE = "test_drive_done"
    NEGOTIATING = "negotiating"
    ORDERED = "ordered"
    WON = "won"
    LOST = "lost"


OPEN_STAGES = tuple(s.value for s in Stage if s not in (Stage.WON, Stage.LOST))


class Lead(IdMixin, TimestampMixin, Base):
    __tablename__ = "lead"
    __table_args__ = (
        UniqueConstraint("channel", "source_ref"),
        Index("ix_lead_dealer_id_id", "dealer_id", "id"),
        Index("ix_lead_consultant_stage", "consultant_id", "stage"),
        Index("ix_lead_dealer_stage", "dealer_id", "stage"),
        Index("ix_lead_customer_series", "customer_id", "series_id"),
        Index("ix_lead_first_contact_due", "first_contact_due_at"),
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"))
    customer: Mapped[Customer] = relationship(lazy="raise")  # for insert order; never loaded
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"))
    consultant_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    brand_id: Mapped[str] = mapped_column(ForeignKey("brand.id"))
    series_id: Mapped[str] = mapped_column(ForeignKey("series.id"))
    channel: Mapped[str] = mapped_column(String(20), index=True)
    campaign: Mapped[str | None] = mapped_column(String(80), index=True)
    source_ref: Mapped[str | None] = mapped_column(String(120))
    stage: Mapped[str] = mapped_column(String(24), default=Stage.NEW)
    lost_reason: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500))
    routing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_breaches: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LeadTouch(IdMixin, Base):
    """One contact from the person through a channel: the steps of the conversion path."""

    __tablename__ = "lead_touch"
    __table_args__ = (
        Index("ix_lead_touch_lead_at", "lead_id", "at"),
        Index("ix_lead_touch_channel_source_ref", "channel", "source_ref"),
    )
    lead_id: Mapped[str] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    lead: Mapped[Lead] = relationship(lazy="raise")  # for insert order; never loaded
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    channel: Mapped[str] = mapped_column(String(20))
    campaign: Mapped[str | None] = mapped_column(String(80))
    click_id: Mapped[str | None] = mapped_column(String(120))
    source_ref: Mapped[str | None] = mapped_column(String(120))
    utm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(String(500))


class LeadHistory(IdMixin, Base):
    """What happened to a lead: assignment, reassignment, stage moves, SLA breaches."""

    __tablename__ = "lead_history"
    __table_args__ = (Index("ix_lead_history_lead_at", "lead_id", "at"),)
    lead_id: Mapped[str] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    lead: Mapped[Lead] = relationship(lazy="raise")  # for insert order; never loaded
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    kind: Mapped[str] = mapped_column(String(20))  # assigned | reassigned | stage | breach | touch
    from_value: Mapped[str | None] = mapped_column(String(60))
    to_value: Mapped[str | None] = mapped_column(String(60))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str | None] = mapped_column(String(300))


class FollowUpTask(IdMixin, Base):
    __tablename__ = "follow_up_task"
    __table_args__ = (Index("ix_follow_up_assignee_due", "assignee_id", "due_at"),)
    lead_id: Mapped[str] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(300))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class LeadSettings(Base):
    """Routing and SLA configuration of the OEM, as data (one row)."""

    __tablename__ = "lead_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    first_contact_seconds: Mapped[int] = mapped_column(Integer, default=900)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    dedupe_window_days: Mapped[int] = mapped_column(Integer, default=30)
    radius_km: Mapped[float] = mapped_column(Float, default=50.0)
    max_candidates: Mapped[int] = mapped_column(Integer, default=5)
    load_weight_km: Mapped[float] = mapped_column(Float, default=10.0)
    default_capacity: Mapped[int] = mapped_column(Integer, default=20)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)


class DealerLeadState(Base):
    """Per dealer: whether it takes leads, its capacity, and the round-robin position inside it."""

    __tablename__ = "dealer_lead_state"
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealer.id", ondelete="CASCADE"), primary_key=True)
    accepting: Mapped[bool] = mapped_column(Boolean, default=True)
    capacity: Mapped[int | None] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)


class ConsultantDuty(Base):
    """On duty or not, and a weight (2.0 takes twice the leads). No row: on duty, weight 1."""

    __tablename__ = "consultant_duty"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class ChannelSpend(IdMixin, Base):
    __tablename__ = "channel_spend"
    __table_args__ = (UniqueConstraint("spend_on", "channel", "campaign"),)
    spend_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))
    campaign: Mapped[str] = mapped_column(String(80), default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
