"""The outbox: messages to WeCom, SMS and webhooks, written in the transaction of the change.

The worker delivers them with retries and exponential backoff; after ``MAX_ATTEMPTS`` a
message is dead and stays visible with its last error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

from drivetrain.db import Database, append_row, unit_of_work
from drivetrain.jobs.claims import claim_due
from drivetrain.jobs.models import OutboxMessage
from drivetrain.kit import clock

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=2)
Deliverer = Callable[[dict[str, Any]], None]


def enqueue(session: Session, topic: str, payload: dict[str, Any]) -> None:
    now = clock.now()
    append_row(session, OutboxMessage, topic=topic, payload=payload, due_at=now, created_at=now)


def enqueue_many(session: Session, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Many ``(topic, payload)`` messages in one INSERT: a sweep telling dozens of people at once."""
    if not messages:
        return
    now = clock.now()
    rows = [
        {"topic": topic, "payload": payload, "due_at": now, "created_at": now} for topic, payload in messages
    ]
    session.execute(insert(OutboxMessage), rows)


def retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_WAIT)


def _settle(message: OutboxMessage, error: str | None) -> None:
    now = clock.now()
    message.attempts += 1
    message.claimed_by = message.claimed_until = None
    if error is None:
        message.status, message.sent_at, message.last_error = "sent", now, None
        return
    message.last_error = error[:2000]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "dead"
    else:
        message.due_at = now + retry_delay(message.attempts)


def deliver_due(db: Database, deliverers: Mapping[str, Deliverer], *, worker_id: str, limit: int = 50) -> int:
    """Deliver one batch; returns how many messages were tried.

    Claim, deliver outside any transaction, then settle the whole batch in one: the database is
    written twice per batch, not twice per message, and never held while an outside service answers.
    A worker that dies mid-batch leaves its claims to expire, and the messages go out again.
    """
    with unit_of_work(db) as session:
        ids = claim_due(
            session,
            OutboxMessage,
            due_col=OutboxMessage.due_at,
            ready=OutboxMessage.status == "pending",
            now=clock.now(),
            worker_id=worker_id,
            lease=CLAIM_LEASE,
            limit=limit,
        )
        claimed = list(
            session.execute(
                _claimed_by(worker_id, ids).with_only_columns(
                    OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload
                )
            )
        )
    errors = {message_id: _deliver(deliverers, topic, payload) for message_id, topic, payload in claimed}
    if errors:
        with unit_of_work(db) as session:
            for message in session.scalars(_claimed_by(worker_id, list(errors))):
                _settle(message, errors[message.id])
    return len(claimed)


def _claimed_by(worker_id: str, ids: list[str]) -> Select[OutboxMessage]:
    return select(OutboxMessage).where(
        OutboxMessage.id.in_(ids), OutboxMessage.status == "pending", OutboxMessage.claimed_by == worker_id
    )


def _deliver(deliverers: Mapping[str, Deliverer], topic: str, payload: dict[str, Any]) -> str | None:
    """None when delivered, else the error to keep on the message."""
    deliver = deliverers.get(topic)
    try:
        if deliver is None:
            raise LookupError(f"no deliverer for topic {topic}")
        deliver(payload)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def dead_letters(session: Session, *, limit: int = 100) -> list[OutboxMessage]:
    stmt = (
        select(OutboxMessage).where(OutboxMessage.status == "dead").order_by(OutboxMessage.created_at.desc())
    )
    return list(session.scalars(stmt.limit(limit)))
