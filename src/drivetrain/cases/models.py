"""Cases (complaints, feedback, inquiries, supplier issues), their history, and SLA policies as data."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin, TimestampMixin


class Channel(StrEnum):
    HOTLINE = "hotline"
    WECOM = "wecom"
    MINI_PROGRAM = "mini_program"
    APP = "app"
    WEBSITE = "website"
    EMAIL = "email"
    WEIBO = "weibo"
    EXEC_SOCIAL = "exec_social"
    DEALER = "dealer"
    WALK_IN = "walk_in"
    SURVEY = "survey"
    SUPPLIER = "supplier"


class CaseType(StrEnum):
    COMPLAINT = "complaint"
    FEEDBACK = "feedback"
    INQUIRY = "inquiry"
    SUPPLIER = "supplier"


class CaseStatus(StrEnum):
    OPEN = "open"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Rung(IntEnum):
    """The escalation ladder along the reporting line: 0 the assignee … 4 the CEO."""

    ASSIGNEE = 0
    STORE_MANAGER = 1
    REGIONAL_MANAGER = 2
    HQ_OPS_HEAD = 3
    CEO = 4


class Case(IdMixin, TimestampMixin, Base):
    __tablename__ = "customer_case"
    __table_args__ = (
        Index("ix_customer_case_dealer_id_id", "dealer_id", "id"),
        Index("ix_customer_case_owner_status", "owner_id", "status"),
        Index("ix_customer_case_escalation_due", "escalation_due_at"),
    )
    type: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    vin: Mapped[str | None] = mapped_column(String(17))
    plate: Mapped[str | None] = mapped_column(String(12))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)
    vehicle_id: Mapped[str | None] = mapped_column(ForeignKey("vehicle.id"), index=True)
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"))
    opened_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    category: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    sentiment: Mapped[int] = mapped_column(Integer, default=0)
    aspects: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.OPEN)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    held_since: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    escalation_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(500))
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseHistory(IdMixin, Base):
    """Who held a case and for how long, and everything else that happened to it."""

    __tablename__ = "case_history"
    __table_args__ = (Index("ix_case_history_case_at", "case_id", "at"),)
    case_id: Mapped[str] = mapped_column(ForeignKey("customer_case.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    kind: Mapped[str] = mapped_column(
        String(20)
    )  # opened | escalated | skipped | paused | resumed | resolved
    from_owner_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    to_owner_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    level: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    held_seconds: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SlaPolicy(Base):
    """One row per priority: the budgets, in seconds, and whether they count business hours only."""

    __tablename__ = "sla_policy"
    priority: Mapped[str] = mapped_column(String(10), primary_key=True)
    first_response_seconds: Mapped[int] = mapped_column(Integer)
    resolution_seconds: Mapped[int] = mapped_column(Integer)
    escalation_seconds: Mapped[int] = mapped_column(Integer)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)


DEFAULT_POLICIES: dict[Priority, tuple[int, int, int, bool]] = {
    # priority: (first response, resolution, each rung's escalation budget, business hours)
    Priority.CRITICAL: (900, 4 * 3600, 3600, False),
    Priority.HIGH: (3600, 24 * 3600, 3600, True),
    Priority.NORMAL: (4 * 3600, 3 * 24 * 3600, 3600, True),
    Priority.LOW: (24 * 3600, 7 * 24 * 3600, 3600, True),
}
