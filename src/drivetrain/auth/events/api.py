"""``GET /api/v1/events``: the signed-in subject's events as Server-Sent Events.

A reconnect with ``Last-Event-ID`` resumes after that event, so nothing is lost. Without it
the stream starts at "now". An event that becomes visible after a later one was sent (see
``events.EventFeed``) is still sent, once. Wake-ups come from the in-process broker; a poll every
``POLL_SECONDS`` picks up events written by other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from drivetrain.auth.gates import SignedIn
from drivetrain.db import database
from drivetrain.jobs import events
from drivetrain.jobs.broker import broker
from drivetrain.jobs.models import Event

router = APIRouter(tags=["events"])
POLL_SECONDS = 1.0
READ_PAGE = 100  # events read at a time
STREAM_READ_THREADS = 8
_stream_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    """Event streams read in threads of their own (per event loop), so a burst of API requests
    filling the shared thread pool never holds back a consultant's events, and many open streams
    never starve the API."""
    loop = asyncio.get_running_loop()
    if loop not in _stream_reads:
        _stream_reads[loop] = anyio.CapacityLimiter(STREAM_READ_THREADS)
    return _stream_reads[loop]


def _read(feed: events.EventFeed) -> list[Event]:
    with database().session(write=False) as session:
        return feed.read(session)


def _latest(recipient_id: str) -> int:
    with database().session(write=False) as session:
        return events.latest_event_id(session, recipient_id)


async def _stream(
    request: Request, recipient_id: str, after_id: int | None
) -> AsyncIterator[ServerSentEvent]:
    signal = broker.subscribe(recipient_id)
    try:
        last = (
            after_id
            if after_id is not None
            else await anyio.to_thread.run_sync(_latest, recipient_id, limiter=_limiter())
        )
        in_order = database().dialect == "sqlite"  # one writer at a time: ids become visible in order
        feed = events.EventFeed(
            recipient_id, last, page=READ_PAGE, late_seconds=0.0 if in_order else events.LATE_COMMIT_SECONDS
        )
        yield ServerSentEvent(comment="connected")
        while not await request.is_disconnected():
            signal.clear()
            page = await anyio.to_thread.run_sync(_read, feed, limiter=_limiter())
            for event in page:
                # A late event (below the cursor) must not move a reconnecting client's resume point back.
                last = max(last, event.id)
                payload = {"type": event.type, "at": event.at.isoformat(), **event.payload}
                yield ServerSentEvent(
                    data=json.dumps(payload, ensure_ascii=False), event=event.type, id=str(last)
                )
            if feed.behind:
                continue  # a burst bigger than a page: the rest is already there, not worth a wake-up
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=POLL_SECONDS)
    finally:
        broker.unsubscribe(recipient_id, signal)


@router.get(
    "/events",
    summary="Your events as Server-Sent Events (text/event-stream)",
    response_class=EventSourceResponse,
)
async def stream_events(
    request: Request,
    subject: SignedIn,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Same as Last-Event-ID, for clients that cannot set it")
    ] = None,
) -> EventSourceResponse:
    resume = last_event_id if last_event_id is not None else after
    return EventSourceResponse(_stream(request, subject.user_id, resume), ping=15)
