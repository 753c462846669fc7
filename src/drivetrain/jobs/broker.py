"""In-process fan-out: wakes the SSE streams of the recipients of a committed event.

Events are rows first; the broker only says "look again". A stream that misses a wake-up
(another process wrote the event) still finds it on its next poll, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_PENDING_KEY = "drivetrain.pending_recipients"


class Broker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def subscribe(self, recipient_id: str) -> asyncio.Event:
        """Must be called from the event loop of the stream that will wait on the returned event."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(recipient_id, set()).add(waiter)
        return waiter[1]

    def unsubscribe(self, recipient_id: str, signal: asyncio.Event) -> None:
        with self._lock:
            waiters = self._waiters.get(recipient_id, set())
            for waiter in [w for w in waiters if w[1] is signal]:
                waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(recipient_id, None)

    def notify(self, recipient_ids: Iterable[str]) -> None:
        with self._lock:
            targets = [w for r in set(recipient_ids) for w in self._waiters.get(r, ())]
        for loop, signal in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(signal.set)


broker = Broker()


def remember_recipients(session: Session, recipient_ids: Iterable[str]) -> None:
    session.info.setdefault(_PENDING_KEY, set()).update(recipient_ids)


@sa_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    recipients: Any = session.info.pop(_PENDING_KEY, None)
    if recipients:
        broker.notify(recipients)


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
