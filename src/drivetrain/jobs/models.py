"""Rows the worker and the real-time stream live on: stored events and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin


class Event(Base):
    """A domain event for one recipient. The integer id orders the stream and is the SSE ``Last-Event-ID``."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_recipient_id", "recipient_id", "id"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    type: Mapped[str] = mapped_column(String(40))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMessage(IdMixin, Base):
    """A message to the outside, written with the change that causes it and delivered by the worker."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)
    topic: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    claimed_by: Mapped[str | None] = mapped_column(String(60))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
