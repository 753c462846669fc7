"""Events are stored with the change and streamed in order; the outbox retries and keeps dead letters."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from drivetrain.auth.events import api as events_api
from drivetrain.db import Database, bulk_rows
from drivetrain.integrations.wecom.client import FakeWeCom, WeComError, text_message_body
from drivetrain.jobs import events, outbox
from drivetrain.jobs.broker import Broker
from drivetrain.jobs.models import OutboxMessage
from drivetrain.kit import clock
from tests.world import World, load_world


@pytest.fixture
def empty_outbox(session: Session) -> None:
    """The world's own messages (from its leads) are settled, so each test sees only its own."""
    session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending").values(status="sent"))
    session.commit()


def test_events_resume_after_the_last_seen_id(session: Session, world: World) -> None:
    me = world.users["sc_a1"].id
    other = world.users["sc_b1"].id
    start, other_start = events.latest_event_id(session, me), events.latest_event_id(session, other)
    for n in range(3):
        events.publish(session, "lead.assigned", recipients=[me, other if n == 1 else None], payload={"n": n})
    session.flush()
    mine = events.events_after(session, me, start)
    assert [e.payload["n"] for e in mine] == [0, 1, 2]
    assert [e.payload["n"] for e in events.events_after(session, me, mine[0].id)] == [1, 2]
    assert [e.payload["n"] for e in events.events_after(session, other, other_start)] == [1]


def test_a_rolled_back_change_publishes_nothing(db: Database, world: World) -> None:
    me = world.users["sc_a1"].id
    with db.session(write=True) as session:
        before = events.latest_event_id(session, me)
        events.publish(session, "lead.assigned", recipients=[me], payload={"n": 1})
        session.rollback()
        assert events.latest_event_id(session, me) == before


def test_bulk_rows_land_together_at_the_end_of_the_block(
    session: Session, world: World, empty_outbox: None
) -> None:
    """Inside ``bulk_rows`` appended rows wait for the block's end, then go in with their defaults
    (ids, status) as objects would; what the block did meanwhile is unaffected."""
    me = world.users["sc_a1"].id
    start = events.latest_event_id(session, me)
    with bulk_rows(session):
        for n in range(3):
            events.publish(session, "lead.assigned", recipients=[me], payload={"n": n})
        outbox.enqueue(session, "sms.send", {"to": "+8613800000000"})
        assert events.events_after(session, me, start) == []
    assert [e.payload["n"] for e in events.events_after(session, me, start)] == [0, 1, 2]
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")).one()
    assert message.topic == "sms.send" and len(message.id) == 26 and message.attempts == 0


def test_bulk_rows_write_nothing_when_the_block_fails(session: Session, world: World) -> None:
    me = world.users["sc_a1"].id
    start = events.latest_event_id(session, me)
    with pytest.raises(RuntimeError), bulk_rows(session):
        events.publish(session, "lead.assigned", recipients=[me], payload={"n": 1})
        raise RuntimeError("the batch failed")
    events.publish(session, "lead.assigned", recipients=[me], payload={"n": 2})  # back to one object
    session.flush()
    assert [e.payload["n"] for e in events.events_after(session, me, start)] == [2]


def test_broker_wakes_only_the_recipients() -> None:
    broker = Broker()

    async def scenario() -> tuple[bool, bool]:
        mine, theirs = broker.subscribe("me"), broker.subscribe("them")
        broker.notify(["me"])
        await asyncio.wait_for(mine.wait(), timeout=5)
        await asyncio.sleep(0)
        return mine.is_set(), theirs.is_set()

    # Its own thread and loop: browser tests in the same process may leave a loop running in this one.
    outcome: list[tuple[bool, bool]] = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(scenario())))
    runner.start()
    runner.join(timeout=10)
    assert outcome == [(True, False)]


class _StaysConnected:
    async def is_disconnected(self) -> bool:
        return False


def test_a_burst_bigger_than_a_page_streams_without_waiting_for_a_wake_up(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2.5 pages of events committed at once all reach the stream with no further commit to wake it:
    a page that comes back full is followed by the next read at once (the poll is an hour here)."""
    me = world.users["sc_a1"].id
    start = events.latest_event_id(session, me)
    count = events_api.READ_PAGE * 5 // 2
    for n in range(count):
        events.publish(session, "lead.assigned", recipients=[me], payload={"n": n})
    session.commit()
    monkeypatch.setattr(events_api, "POLL_SECONDS", 3600.0)

    async def receive() -> list[int]:
        stream = events_api._stream(_StaysConnected(), me, start)  # type: ignore[arg-type]
        received: list[int] = []
        async for message in stream:
            if message.event == "lead.assigned":
                received.append(json.loads(message.data)["n"])
                if len(received) == count:
                    break
        await stream.aclose()
        return received

    outcome: list[list[int]] = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(asyncio.wait_for(receive(), 60))))
    runner.start()
    runner.join(timeout=90)
    assert outcome == [list(range(count))]


def _recipient(db: Database, username: str = "sc_a1") -> str:
    with db.session(write=False) as session:
        return load_world(session).users[username].id


def _read(db: Database, feed: events.EventFeed) -> list[int]:
    with db.session(write=False) as session:
        return [e.payload["n"] for e in feed.read(session)]


@pytest.mark.parametrize("committed_db", ["postgresql"], indirect=True)  # SQLite has one writer at a time
def test_an_event_committed_after_a_later_one_still_reaches_the_feed(committed_db: Database) -> None:
    """Two writers: the first takes the lower id but commits after the second. The feed has sent the
    higher id by then, and still sends the lower one when it becomes visible, once."""
    me = _recipient(committed_db)
    with committed_db.session(write=False) as session:
        feed = events.EventFeed(me, events.latest_event_id(session, me), look_every=0)
    with committed_db.session(write=True) as slow, committed_db.session(write=True) as quick:
        events.publish(slow, "lead.assigned", recipients=[me], payload={"n": 1})
        slow.flush()  # its id is taken now, its commit comes later
        events.publish(quick, "lead.assigned", recipients=[me], payload={"n": 2})
        quick.commit()
        assert _read(committed_db, feed) == [2]
        slow.commit()
    assert _read(committed_db, feed) == [1]
    assert _read(committed_db, feed) == []
    cursor = feed.last_id
    with committed_db.session(write=True) as session:
        events.publish(session, "lead.assigned", recipients=[me], payload={"n": 3})
        session.commit()
    assert _read(committed_db, feed) == [3] and feed.last_id > cursor


def test_the_feed_stops_looking_back_once_its_window_has_passed(session: Session, world: World) -> None:
    """The feed looks back at most every ``look_every`` seconds, and after ``late_seconds`` with
    nothing new it reads only after its cursor again."""
    me = world.users["sc_a1"].id
    now = [1000.0]
    feed = events.EventFeed(
        me, events.latest_event_id(session, me), late_seconds=30, monotonic=lambda: now[0]
    )
    for n in range(3):
        events.publish(session, "lead.assigned", recipients=[me], payload={"n": n})
    session.flush()
    assert [e.payload["n"] for e in feed.read(session)] == [0, 1, 2]
    queries: list[str] = []
    connection = session.connection()

    def count(*args: object) -> None:
        queries.append(str(args[2]))

    sqlalchemy_event.listen(connection, "before_cursor_execute", count)
    try:
        feed.read(session)
        looked_back = len(queries)
        queries.clear()
        feed.read(session)
        too_soon = len(queries)
        now[0] += 31
        queries.clear()
        feed.read(session)
    finally:
        sqlalchemy_event.remove(connection, "before_cursor_execute", count)
    assert (looked_back, too_soon, len(queries)) == (2, 1, 1)


def test_outbox_delivers_in_the_real_wecom_format(db: Database, session: Session, empty_outbox: None) -> None:
    fake = FakeWeCom()
    outbox.enqueue(session, "wecom.app_message", {"to": ["sc_a1"], "text": "新线索"})
    session.commit()
    sent = outbox.deliver_due(
        db,
        {"wecom.app_message": lambda p: fake.send_text(to_userids=p["to"], content=p["text"])},
        worker_id="w",
    )
    assert sent == 1
    assert fake.sent == [text_message_body(agent_id=fake.agent_id, to_userids=["sc_a1"], content="新线索")]
    assert fake.sent[0]["touser"] == "sc_a1" and fake.sent[0]["msgtype"] == "text"


def test_failures_back_off_then_go_dead(
    db: Database, session: Session, empty_outbox: None, frozen_clock
) -> None:
    fake = FakeWeCom(known_userids={"someone_else"})
    outbox.enqueue(session, "wecom.app_message", {"to": ["ghost"], "text": "hi"})
    session.commit()
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")).one()
    deliver = {"wecom.app_message": lambda p: fake.send_text(to_userids=p["to"], content=p["text"])}
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert outbox.deliver_due(db, deliver, worker_id="w") == 1
        session.expire_all()
        row = session.get(OutboxMessage, message.id)
        assert row is not None and row.attempts == attempt and "81013" in (row.last_error or "")
        assert outbox.deliver_due(db, deliver, worker_id="w") == 0  # not due again before its backoff
        clock.advance(outbox.retry_delay(attempt) + timedelta(seconds=1))
    assert row.status == "dead"
    assert [m.id for m in outbox.dead_letters(session)] == [message.id]


def test_fake_wecom_answers_like_wecom() -> None:
    with pytest.raises(WeComError) as failure:
        FakeWeCom(known_userids=set()).send_text(to_userids=["nobody"], content="x")
    assert failure.value.errcode == 81013
    answer = FakeWeCom(known_userids={"a"}).send_text(to_userids=["a", "b"], content="x")
    assert answer == {"errcode": 0, "errmsg": "ok", "invaliduser": "b"}
    long_text = "长" * 2000
    assert (
        len(text_message_body(agent_id=1, to_userids=["a"], content=long_text)["text"]["content"].encode())
        <= 2048
    )


def test_unknown_topic_is_recorded_not_lost(db: Database, session: Session, empty_outbox: None) -> None:
    outbox.enqueue(session, "sms.send", {"to": "+8613800000000"})
    session.commit()
    outbox.deliver_due(db, {}, worker_id="w")
    session.expire_all()
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "sms.send")).one()
    assert row is not None and row.status == "pending" and "no deliverer" in (row.last_error or "")
