"""Cases (complaints, feedback, inquiries, supplier issues), their history, and SLA policies as data."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
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
        Index("ix_customer_case_created_at", "created_at"),
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
    series_id: Mapped[str | None] = mapped_column(ForeignKey("series.id"))
    """The car's series when the case names a known car: what defect signals cluster on."""
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"))
    opened_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    category: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10))
    sentiment: Mapped[int] = mapped_column(Integer, default=0)
    aspects: Mapped[list[str]] = mapped_column(JSON, default=list)
    symptom: Mapped[str | None] = mapped_column(String(20))
    """The symptom the text names (异响, 漏油, 无法启动 …), if any: the third key of a defect cluster."""
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.OPEN)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    held_since: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    escalation_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When staff first answered the customer (a reply or a status change): first-response SLA."""
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


# ---------------------------------------------------------------- approvals


class ApprovalKind(StrEnum):
    RETURN = "return"
    REFUND = "refund"
    GOODWILL = "goodwill"
    EXTENDED_WARRANTY = "extended_warranty"
    DISCOUNT = "discount"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AuthorityLimit(Base):
    """The authority matrix as data: the most a role may approve of one kind of request.

    ``max_amount_cents`` NULL means no limit; a role without a row may not approve that kind at all.
    """

    __tablename__ = "approval_authority"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    max_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)


class ApprovalRequest(IdMixin, TimestampMixin, Base):
    """A request on a case for money or a concession, held by whoever may decide it."""

    __tablename__ = "case_approval"
    __table_args__ = (Index("ix_case_approval_approver_status", "approver_id", "status"),)
    case_id: Mapped[str] = mapped_column(ForeignKey("customer_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default=ApprovalStatus.PENDING)
    requested_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    approver_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    """Who holds the decision now: the lowest rung of the case's ladder whose limit covers the amount."""
    approver_level: Mapped[int | None] = mapped_column(Integer)
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(String(500))


YUAN = 100
DEFAULT_AUTHORITY: dict[ApprovalKind, dict[str, int | None]] = {
    # kind: {role: most it may approve, in cents; None = no limit}. "A frontline manager may approve a return"
    ApprovalKind.RETURN: {
        "store_manager": 300_000 * YUAN,
        "regional_manager": 1_000_000 * YUAN,
        "hq_ops": 5_000_000 * YUAN,
        "executive": None,
    },
    ApprovalKind.REFUND: {
        "service_advisor": 500 * YUAN,
        "store_manager": 20_000 * YUAN,
        "regional_manager": 100_000 * YUAN,
        "hq_ops": 500_000 * YUAN,
        "executive": None,
    },
    ApprovalKind.GOODWILL: {
        "service_advisor": 1_000 * YUAN,
        "store_manager": 10_000 * YUAN,
        "regional_manager": 50_000 * YUAN,
        "hq_ops": 200_000 * YUAN,
        "executive": None,
    },
    ApprovalKind.EXTENDED_WARRANTY: {
        "store_manager": 8_000 * YUAN,
        "regional_manager": 30_000 * YUAN,
        "hq_ops": 100_000 * YUAN,
        "executive": None,
    },
    ApprovalKind.DISCOUNT: {
        "sales_consultant": 2_000 * YUAN,
        "store_manager": 20_000 * YUAN,
        "regional_manager": 50_000 * YUAN,
        "hq_ops": 200_000 * YUAN,
        "executive": None,
    },
}


# ---------------------------------------------------------------- closing the loop


class CaseSurvey(IdMixin, Base):
    """The satisfaction survey sent when a case is resolved; the owner answers through a signed link."""

    __tablename__ = "case_survey"
    case_id: Mapped[str] = mapped_column(ForeignKey("customer_case.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """Keyed hash of the link's token; the token itself is only in the message sent."""
    channel: Mapped[str] = mapped_column(String(12))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(500))


class ClassificationCorrection(IdMixin, Base):
    """A person's fix of the classifier's answer on a case; ``drivetrain classify retrain`` learns from it."""

    __tablename__ = "classification_correction"
    case_id: Mapped[str] = mapped_column(ForeignKey("customer_case.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(30))
    sentiment: Mapped[int] = mapped_column(Integer)
    corrected_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
