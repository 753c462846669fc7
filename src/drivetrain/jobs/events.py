"""Publishing domain events: stored in the transaction of the change, streamed after it commits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.db import append_row
from drivetrain.jobs.broker import remember_recipients
from drivetrain.jobs.models import Event
from drivetrain.kit import clock


def publish(
    session: Session, event_type: str, *, recipients: Iterable[str | None], payload: dict[str, Any]
) -> None:
    targets = sorted({r for r in recipients if r})
    for recipient in targets:
        append_row(session, Event, type=event_type, recipient_id=recipient, payload=payload, at=clock.now())
    remember_recipients(session, targets)


def events_after(session: Session, recipient_id: str, after_id: int, *, limit: int = 100) -> list[Event]:
    stmt = (
        select(Event)
        .where(Event.recipient_id == recipient_id, Event.id > after_id)
        .order_by(Event.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def latest_event_id(session: Session, recipient_id: str) -> int:
    return session.scalar(select(func.max(Event.id)).where(Event.recipient_id == recipient_id)) or 0
