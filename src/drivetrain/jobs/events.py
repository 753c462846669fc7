"""Publishing domain events: stored in the transaction of the change, streamed after it commits."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, insert, select
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


def publish_many(session: Session, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Many ``(type, recipient, payload)`` events in one INSERT: a sweep telling each new holder."""
    if not events:
        return
    at = clock.now()
    rows = [{"type": t, "recipient_id": r, "payload": payload, "at": at} for t, r, payload in events]
    session.execute(insert(Event), rows)
    remember_recipients(session, sorted({r for _, r, _ in events}))


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


LATE_COMMIT_SECONDS = 10.0
"""How long after sending an event a feed on PostgreSQL still looks below it for events that became
visible late: far longer than any transaction here that publishes events (lead batches, escalation
sweeps, case actions take milliseconds), short enough that a busy consultant's look stays small."""
LATE_LOOK_SECONDS = 0.5
"""How often a feed looks back at most: late events are rare, and a look on every read of a busy
stream (hundreds of events a second) costs more than the events themselves."""


class EventFeed:
    """One recipient's events, each once, in the order they become visible.

    An event's id is taken when its row is written, not when its transaction commits. On PostgreSQL
    two writers can commit out of id order, so an event can become visible below one already sent,
    and a plain "after the last id sent" cursor would skip it for good. The feed remembers the ids it
    sent in the last ``late_seconds`` and, while any are that recent, also looks (every
    ``look_every`` seconds at most) between them and its cursor for ids it has not sent. A
    transaction that commits more than ``late_seconds`` after a later one can still be missed.
    SQLite lets one writer in at a time (``BEGIN IMMEDIATE``), so ids become visible in order there
    and its feeds pass ``late_seconds=0``: no look at all.
    """

    def __init__(
        self,
        recipient_id: str,
        after_id: int,
        *,
        page: int = 100,
        late_seconds: float = LATE_COMMIT_SECONDS,
        look_every: float = LATE_LOOK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recipient_id = recipient_id
        self.last_id = after_id
        """The highest id sent: where a reconnecting client resumes (its ``Last-Event-ID``)."""
        self.behind = False
        """The last read filled a page: more events are waiting now."""
        self._page = page
        self._late_seconds = late_seconds
        self._look_every = look_every
        self._monotonic = monotonic
        self._looked_at = -math.inf
        self._floor = after_id  # every id at or below it was sent, came before the feed, or is too late
        self._recent: deque[tuple[float, int]] = deque()  # (when sent, id), in the order sent

    def read(self, session: Session) -> list[Event]:
        """Events not sent yet: those that became visible late first, then a page after the cursor."""
        self._forget_old()
        late = self._late(session)
        fresh = events_after(session, self.recipient_id, self.last_id, limit=self._page)
        now = self._monotonic()
        self._recent.extend((now, event.id) for event in (*late, *fresh))
        if fresh:
            self.last_id = fresh[-1].id
        self.behind = len(fresh) == self._page
        return [*late, *fresh]

    def _forget_old(self) -> None:
        horizon = self._monotonic() - self._late_seconds
        while self._recent and self._recent[0][0] < horizon:
            self._floor = max(self._floor, self._recent.popleft()[1])

    def _late(self, session: Session) -> list[Event]:
        now = self._monotonic()
        if self.last_id <= self._floor or now - self._looked_at < self._look_every:
            return []
        self._looked_at = now
        visible = session.scalars(
            select(Event.id).where(
                Event.recipient_id == self.recipient_id, Event.id > self._floor, Event.id < self.last_id
            )
        )
        sent = {event_id for _, event_id in self._recent}
        missing = [event_id for event_id in visible if event_id not in sent]
        if not missing:
            return []
        return list(session.scalars(select(Event).where(Event.id.in_(missing)).order_by(Event.id)))
