"""A full recompute goes in chunks of customers, each its own transaction: the same tags and tiers as
one pass, other writers between chunks, a run that died half-way finished by the next, a second worker
skipping a run under way, and an explicit full run taking over."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.config import sqlite_path
from drivetrain.customers.models import Customer, CustomerTag, Tag
from drivetrain.customers.segments import tags, tiers
from drivetrain.customers.segments import tasks as segments_tasks
from drivetrain.customers.segments.models import CustomerValue, SegmentRun
from drivetrain.customers.segments.tasks import LEASE, RecomputeResult, recompute
from drivetrain.db import Database, unit_of_work
from drivetrain.kit import clock
from tests.customers.test_tags import NOW, TODAY, car, event, person

Snapshot = tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]

# One worker builds this module's committed world per backend (see restored_db), not each worker its own.
pytestmark = pytest.mark.xdist_group("segment_chunks")


@pytest.fixture
def now() -> Iterator[datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


@pytest.fixture
def chunk_of_three(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(segments_tasks, "CHUNK_CUSTOMERS", 3)
    return 3


def no_pause(_session: Session) -> None:
    """Between chunks: nothing (the default pauses on SQLite for other writers)."""


def add_customers(session: Session, n: int = 10) -> None:
    """``n`` customers with something for every rule and tier, and one merged away; the rules exist."""
    people = [person(session, f"分批客户{i}") for i in range(n)]
    for i, customer in enumerate(people):
        if i % 3 == 0:
            car(session, customer, series="Mustang Mach-E")
        if i % 4 == 1:
            expires = (TODAY + timedelta(days=10)).isoformat()
            event(session, customer, "insurance_policy", NOW, expires_on=expires)
        if i % 5 == 2:
            for days_ago in (10, 100, 200):
                event(session, customer, "service_visit", NOW - timedelta(days=days_ago), amount=900.0)
        if i % 2 == 0:
            event(session, customer, "purchase", NOW - timedelta(days=20 * i), amount=30_000.0 * (i + 1))
    people[-1].merged_into_id = people[0].id
    tags.ensure_rules(session)
    session.flush()


def snapshot(session: Session) -> Snapshot:
    """Every rule-tag link and every value row."""
    links = session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag_id, CustomerTag.added_at)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(Tag.kind == tags.TagKind.RULE)
    ).all()
    values = session.execute(
        select(
            CustomerValue.customer_id,
            CustomerValue.last_activity_at,
            CustomerValue.frequency,
            CustomerValue.monetary,
            CustomerValue.r_score,
            CustomerValue.f_score,
            CustomerValue.m_score,
            CustomerValue.tier,
            CustomerValue.computed_at,
        )
    ).all()
    return {tuple(row) for row in links}, {tuple(row) for row in values}


def wipe(session: Session) -> None:
    session.execute(delete(CustomerValue))
    rule_tags = select(Tag.id).where(Tag.kind == tags.TagKind.RULE)
    session.execute(delete(CustomerTag).where(CustomerTag.tag_id.in_(rule_tags)))


def one_pass(db: Database, monkeypatch: pytest.MonkeyPatch) -> Snapshot:
    """What a single-chunk full run from nothing gives, as of ``NOW``."""
    monkeypatch.setattr(segments_tasks, "CHUNK_CUSTOMERS", 1_000_000)
    with unit_of_work(db) as session:
        wipe(session)
        assert not recompute(session, now=NOW, full=True, between_chunks=no_pause).skipped
        return snapshot(session)


def customer_ids(db: Database) -> list[str]:
    with db.session(write=False) as session:
        return list(session.scalars(select(Customer.id).order_by(Customer.id)))


def run_row(db: Database) -> SegmentRun:
    with db.session(write=False) as session:
        run = session.get(SegmentRun, segments_tasks.RUN_KEY)
        assert run is not None
        return run


def test_a_full_run_in_chunks_gives_what_one_pass_gives(
    session: Session, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_customers(session, 14)
    everyone = session.scalar(select(func.count()).select_from(Customer)) or 0
    whole = recompute(session, now=now, full=True)
    assert whole.customers == everyone and whole.tags_added > 0
    expected = snapshot(session)

    wipe(session)
    monkeypatch.setattr(segments_tasks, "CHUNK_CUSTOMERS", 4)
    pauses: list[Session] = []
    chunked = recompute(session, now=now, full=True, between_chunks=pauses.append)
    assert len(pauses) == math.ceil(everyone / 4) - 1
    assert (chunked.customers, chunked.tags_added, chunked.tags_removed, chunked.tiers_written) == (
        everyone,
        whole.tags_added,
        0,
        whole.tiers_written,
    )
    assert snapshot(session) == expected
    run = segments_tasks.last_run(session)
    assert run is not None and (run.full_cursor, run.claimed_by, run.claimed_until) == (None, None, None)
    assert (run.as_of, run.customers_touched) == (now, everyone)


def test_other_writers_get_in_between_chunks(
    restored_db: Database, now: datetime, chunk_of_three: int
) -> None:
    """After each chunk the write lock is free: another process takes SQLite's at once (no busy wait),
    this process's single writer connection is free, and the cursor is committed, seen from outside."""
    with unit_of_work(restored_db) as session:
        add_customers(session)
    ids = customer_ids(restored_db)
    path = sqlite_path(restored_db.url)
    cursors: list[str | None] = []

    def other_writers(_session: Session) -> None:
        if restored_db.dialect == "sqlite":
            assert path is not None
            elsewhere = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                elsewhere.execute("BEGIN IMMEDIATE")  # "database is locked" if a chunk still held it
                elsewhere.execute(
                    "INSERT INTO tag (id, name, kind) VALUES (?, ?, 'manual')",
                    (f"{len(cursors):026d}", f"另一进程{len(cursors)}"),
                )
                elsewhere.execute("COMMIT")
            finally:
                elsewhere.close()
        with unit_of_work(restored_db) as other:
            other.add(Tag(name=f"线索写入{len(cursors)}", kind=tags.TagKind.MANUAL))
            cursors.append(other.scalars(select(SegmentRun.full_cursor)).one())

    with unit_of_work(restored_db) as session:
        result = recompute(session, between_chunks=other_writers)
    chunks = math.ceil(len(ids) / chunk_of_three)
    assert cursors == [ids[n * chunk_of_three - 1] for n in range(1, chunks)]
    assert result.full and not result.skipped and result.customers == len(ids)
    assert run_row(restored_db).full_cursor is None
    with restored_db.session(write=False) as session:
        written = session.scalars(select(Tag.name).where(Tag.name.like("线索写入%"))).all()
    assert len(written) == chunks - 1


def test_a_run_that_died_half_way_is_finished_by_the_next(
    restored_db: Database, now: datetime, chunk_of_three: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(restored_db) as session:
        add_customers(session)
    ids = customer_ids(restored_db)
    real_sync = tiers.sync_tiers
    calls = count()

    def dies_in_the_second_chunk(*args: Any, **kwargs: Any) -> int:
        if next(calls) == 1:
            raise RuntimeError("worker killed")
        return real_sync(*args, **kwargs)

    monkeypatch.setattr(tiers, "sync_tiers", dies_in_the_second_chunk)
    with pytest.raises(RuntimeError), unit_of_work(restored_db) as session:
        recompute(session, between_chunks=no_pause)
    monkeypatch.setattr(tiers, "sync_tiers", real_sync)

    # The first chunk stays done, the second left nothing behind (its tags were rolled back with it).
    run = run_row(restored_db)
    assert (run.full_cursor, run.as_of) == (ids[chunk_of_three - 1], now)
    with restored_db.session(write=False) as session:
        valued = set(session.scalars(select(CustomerValue.customer_id)))
        tagged = set(session.scalars(select(CustomerTag.customer_id).join(Tag).where(Tag.kind == "rule")))
    assert valued <= set(ids[:chunk_of_three]) and tagged <= set(ids[:chunk_of_three])
    assert valued  # the first chunk's non-merged customers have their tier

    # Within its claim nobody resumes it; an incremental run does not start from its watermark.
    with unit_of_work(restored_db) as session:
        assert recompute(session).skipped
    clock.advance(LEASE)
    with unit_of_work(restored_db) as session:
        resumed = recompute(session, between_chunks=no_pause)  # what the worker's sweeper calls
    assert resumed.full and not resumed.skipped
    assert (resumed.customers, resumed.as_of) == (len(ids) - chunk_of_three, now)
    assert run_row(restored_db).full_cursor is None
    with restored_db.session(write=False) as session:
        finished = snapshot(session)
    assert finished == one_pass(restored_db, monkeypatch)


def test_a_second_worker_skips_a_run_under_way(
    restored_db: Database, now: datetime, chunk_of_three: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(restored_db) as session:
        add_customers(session)
    ids = customer_ids(restored_db)
    second: list[RecomputeResult] = []

    def second_worker(_session: Session) -> None:
        with unit_of_work(restored_db) as other:
            second.append(recompute(other, between_chunks=no_pause))

    with unit_of_work(restored_db) as session:
        first = recompute(session, between_chunks=second_worker)
    assert not first.skipped and first.customers == len(ids)
    assert len(second) == math.ceil(len(ids) / chunk_of_three) - 1
    assert all(r.skipped and r.customers == 0 for r in second)
    with restored_db.session(write=False) as session:
        assert snapshot(session) == one_pass(restored_db, monkeypatch)


def test_an_explicit_full_run_takes_over_and_the_one_it_replaced_stops(
    restored_db: Database, now: datetime, chunk_of_three: int
) -> None:
    """HQ saving a rule mid-run: its full run starts afresh; the worker's stops at its next chunk."""
    with unit_of_work(restored_db) as session:
        add_customers(session)
    ids = customer_ids(restored_db)
    took_over: list[RecomputeResult] = []

    def hq_saves_a_rule(_session: Session) -> None:
        if not took_over:
            with unit_of_work(restored_db) as other:
                tags.update_rule(
                    other, SYSTEM, tags.Rule.INSURANCE_EXPIRING, params={"within_days": 5}, enabled=True
                )
                took_over.append(recompute(other, full=True, between_chunks=no_pause))

    with unit_of_work(restored_db) as session:
        replaced = recompute(session, between_chunks=hq_saves_a_rule)
    assert replaced.skipped and replaced.customers == chunk_of_three
    assert not took_over[0].skipped and took_over[0].customers == len(ids)
    assert run_row(restored_db).full_cursor is None
    with restored_db.session(write=False) as session:
        insured = session.scalars(
            select(CustomerTag.customer_id)
            .join(Tag)
            .where(Tag.name == tags.TAG_NAMES[tags.Rule.INSURANCE_EXPIRING])
        ).all()
    assert insured == []  # the policies expire in 10 days: outside the new 5-day window, for everyone


def test_two_workers_at_once_recompute_each_customer_once(
    restored_db: Database, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segments_tasks, "CHUNK_CUSTOMERS", 2)
    with unit_of_work(restored_db) as session:
        add_customers(session)
    ids = customer_ids(restored_db)
    results: list[RecomputeResult] = []
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        with unit_of_work(restored_db) as session:
            results.append(recompute(session))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    full = [r for r in results if r.full and not r.skipped]
    # The other one skipped, or came after the full run and ran incrementally from its watermark.
    assert len(full) == 1 and full[0].customers == len(ids)
    assert run_row(restored_db).full_cursor is None
    with restored_db.session(write=False) as session:
        assert snapshot(session) == one_pass(restored_db, monkeypatch)
