"""Staff accounts, console sessions, API tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.ids import new_id
from drivetrain.kit.model_mixins import IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    """A staff member who can sign in. ``manager_id`` is the reporting line, up to the CEO."""

    __tablename__ = "app_user"
    # Routing asks for a dealer's sales consultants on every lead: with both columns in one index the
    # planner takes it even on a database nobody has ANALYZEd, instead of scanning every consultant.
    __table_args__ = (Index("ix_app_user_dealer_role", "dealer_id", "role"),)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str | None] = mapped_column(String(60))
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"))
    region_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"), index=True)
    group_id: Mapped[str | None] = mapped_column(ForeignKey("dealer_group.id"), index=True)
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    wecom_userid: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; we keep only its hash."""

    __tablename__ = "console_session"
    id: Mapped[str] = mapped_column(String(26), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(IdMixin, Base):
    """A bearer token for integrations, shown once and stored hashed."""

    __tablename__ = "api_token"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(IdMixin, Base):
    """Who changed what, when, and through which token. Written in the same transaction as the change."""

    __tablename__ = "audit_entry"
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_id: Mapped[str | None] = mapped_column(ForeignKey("api_token.id"))
    via: Mapped[str] = mapped_column(String(10))  # console | api | cli | worker
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(26), index=True)
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"), index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdempotencyRecord(IdMixin, Base):
    """A key a client sent with a create, and the id that create made (``auth.idempotency``)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "operation", "key"),)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
