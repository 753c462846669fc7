"""Recomputing rule tags and value tiers: in full, or incrementally from the last run's watermark.

Incremental means: the customers with a timeline event newer than the last run, a car or a record
changed since it, a car that changed hands since it (old owners too), plus those whose state moved
only because time passed (each rule and the tiers name their date windows). Everything is a handful of
set-based statements over that set; no loop over customers. Ids are ULIDs, ordered by creation, so
"newer than" is an id comparison; the watermark is read back by ``OVERLAP`` so a transaction that
committed late is still seen (recomputing someone twice changes nothing).

A full run (the first on any database, or asked for) goes in chunks of ``CHUNK_CUSTOMERS`` customers
by id, each its own short transaction, so on SQLite the other writers (lead capture, API tokens) get
the single write lock between chunks instead of waiting out the whole recompute. It is judged as of
the moment it started and takes that moment's watermarks: whatever changes while it runs is newer, and
the next incremental run picks it up. The ``segment_run`` row carries its cursor (the last customer
id done, committed with that chunk) and a claim renewed by every chunk. A run that dies half-way
leaves every customer either recomputed or as before, and the watermark still says a full run is
unfinished: no incremental run starts from it, the next run, once the claim has lapsed (``LEASE``),
resumes at the cursor as of the same moment. An explicit full run starts afresh and takes the claim
over (new rule parameters must reach every customer); the run it replaced stops at its next chunk.

The worker runs it every ``REFRESH_EVERY``: like the defect-alert recount it is not a due row, so the
worker keeps the last time in memory, and guarded updates of the ``segment_run`` row (the watermark
for an incremental run, the cursor and claim for each chunk) make a second worker running at the same
moment skip instead of doing the same work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, union
from sqlalchemy.orm import Session

from drivetrain.customers.segments import repository as queries
from drivetrain.customers.segments import tags, tiers
from drivetrain.customers.segments.models import SegmentRun
from drivetrain.customers.segments.repository import Candidates, SegmentRunRepository
from drivetrain.jobs import registry
from drivetrain.jobs.periodic import Periodic
from drivetrain.kit import clock
from drivetrain.kit.ids import new_id

RUN_KEY = "segments"
OVERLAP = timedelta(minutes=2)
REFRESH_EVERY = timedelta(minutes=10)
CHUNK_CUSTOMERS = 20_000
"""Customers per transaction of a full run: about a second of work at a million customers."""
LEASE = timedelta(minutes=5)
"""How long a full run's claim outlives its last chunk: shorter than ``REFRESH_EVERY``, so the sweep
after a run died resumes it."""
WRITERS_PAUSE_SECONDS = 0.1
"""SQLite's pause between chunks. A writer in this process waiting for the single writer connection
takes it at once; one in another process retries the lock every 100 ms at most."""
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class RecomputeResult:
    full: bool
    customers: int
    """Customers looked at (on a full run: in the chunks this call did)."""
    tags_added: int
    tags_removed: int
    tiers_written: int
    as_of: datetime
    skipped: bool = False
    """Another run held the watermark or the full run's claim (a second worker), or took it over:
    the work, or the rest of it, is left to that run."""


@dataclass(frozen=True)
class _Claim:
    """A full run this call holds: its moment, its claim and the last customer id done."""

    as_of: datetime
    token: str
    cursor: str


def id_floor(watermark: str, overlap: timedelta) -> str:
    """The smallest ULID minted ``overlap`` before ``watermark`` was ("" stays "": everything)."""
    if not watermark or overlap <= timedelta(0):
        return watermark
    millis = 0
    for char in watermark[:10]:
        millis = millis * 32 + _CROCKFORD.index(char)
    at_ms = max(0, millis - int(overlap.total_seconds() * 1000))
    return new_id(at_ms)[:10] + "0" * 16


def _runs(session: Session) -> SegmentRunRepository:
    return SegmentRunRepository(session, RUN_KEY)


def _changed_since(session: Session, run: SegmentRun, overlap: timedelta) -> list[Select[Any]]:
    return _runs(session).changed_since(
        run.as_of - overlap,
        id_floor(run.event_watermark, overlap),
        id_floor(run.ownership_watermark, overlap),
    )


def _watermarks(session: Session, now: datetime) -> dict[str, Any]:
    events, ownerships = _runs(session).watermarks()
    return {"as_of": now, "event_watermark": events, "ownership_watermark": ownerships}


def _advance(session: Session, run: SegmentRun, values: dict[str, Any]) -> bool:
    """Move the watermark from what this run read; False when another run moved it first."""
    return _runs(session).guarded_update(
        SegmentRun.as_of == run.as_of,
        SegmentRun.event_watermark == run.event_watermark,
        SegmentRun.full_cursor.is_(None),
        **values,
    )


def _sync(
    session: Session,
    rules: list[tags.RuleConfig],
    bins: tiers.TierBins,
    now: datetime,
    candidates: Candidates,
) -> tuple[int, int, int, int]:
    """Recompute the candidates through the scratch list: (looked at, tags added, removed, tiers written)."""
    looked_at = _runs(session).fill_candidates(candidates)
    chosen = queries.candidate_ids()
    added, removed = tags.sync_rule_tags(session, rules, now=now, candidates=chosen)
    written = tiers.sync_tiers(session, bins, now=now, candidates=chosen)
    _runs(session).clear_candidates()
    return looked_at, added, removed, written


def let_writers_in(session: Session) -> None:
    """Between two chunks of a full run, after the first committed (PostgreSQL needs no pause)."""
    if session.get_bind().dialect.name == "sqlite":
        time.sleep(WRITERS_PAUSE_SECONDS)


def recompute(
    session: Session,
    *,
    now: datetime | None = None,
    full: bool = False,
    overlap: timedelta = OVERLAP,
    between_chunks: Callable[[Session], None] = let_writers_in,
) -> RecomputeResult:
    """Rule tags and value tiers, as of ``now``; incremental unless ``full``, never run before, or a full
    run is unfinished (it resumes, as of its own moment).

    An incremental run stays in the caller's transaction. A full run commits ``session`` once it holds
    the run (the caller's pending changes, such as new rule parameters, go with that) and after every
    chunk but the last, calling ``between_chunks`` before the next; the last chunk and the end of the
    run are left to the caller's commit."""
    now = now or clock.now()
    rules = tags.ensure_rules(session)
    bins = tiers.load_bins(session)
    run = _runs(session).current(fresh=True)
    if not full and run is not None and run.full_cursor is None:
        result = _incremental(session, run, rules, bins, now=now, overlap=overlap)
    else:
        claim = _start_full(session, run, now) if full or run is None else _resume_full(session, run)
        if claim is None:
            return RecomputeResult(True, 0, 0, 0, 0, now, skipped=True)
        result = _full_in_chunks(session, claim, rules, bins, between_chunks)
    session.expire_all()
    return result


def _incremental(
    session: Session,
    run: SegmentRun,
    rules: list[tags.RuleConfig],
    bins: tiers.TierBins,
    *,
    now: datetime,
    overlap: timedelta,
) -> RecomputeResult:
    parts = _changed_since(session, run, overlap)
    for rule in rules:
        if rule.enabled:
            parts += tags.window_crossers(rule.params, run.as_of, now)
    parts += tiers.window_crossers(bins, run.as_of, now)
    if not _advance(session, run, _watermarks(session, now)):
        return RecomputeResult(False, 0, 0, 0, 0, now, skipped=True)
    looked_at, added, removed, written = _sync(session, rules, bins, now, union(*parts))
    _runs(session).guarded_update(customers_touched=looked_at)
    return RecomputeResult(False, looked_at, added, removed, written, now)


def _start_full(session: Session, run: SegmentRun | None, now: datetime) -> _Claim | None:
    """A fresh full run as of ``now``, taking over one under way; None when another worker's first
    run created the watermark row first."""
    claim = _Claim(as_of=now, token=new_id(), cursor="")
    values = _watermarks(session, now) | {
        "customers_touched": 0,
        "full_cursor": claim.cursor,
        "claimed_by": claim.token,
        "claimed_until": clock.now() + LEASE,
    }
    if run is None:
        if not _runs(session).create(values):
            return None
    else:
        _runs(session).guarded_update(**values)
    return claim


def _resume_full(session: Session, run: SegmentRun) -> _Claim | None:
    """The unfinished full run, claimed if its last claim has lapsed; None while another run holds it."""
    assert run.full_cursor is not None
    at = clock.now()
    claim = _Claim(as_of=run.as_of, token=new_id(), cursor=run.full_cursor)
    moved = _runs(session).guarded_update(
        SegmentRun.as_of == run.as_of,
        SegmentRun.full_cursor == run.full_cursor,
        SegmentRun.claimed_until <= at,
        claimed_by=claim.token,
        claimed_until=at + LEASE,
    )
    return claim if moved else None


def _chunk_end(session: Session, after: str) -> str | None:
    """The id closing the next chunk: the ``CHUNK_CUSTOMERS``-th customer after ``after``, or the last."""
    return _runs(session).chunk_end(after, CHUNK_CUSTOMERS)


def _move_cursor(session: Session, claim: _Claim, cursor: str, to: str | None) -> bool:
    """Take the next chunk (``to`` None: the run is done) if this call still holds the run at
    ``cursor``; the guarded update also locks the row, so no other run's chunk interleaves."""
    done = to is None
    return _runs(session).guarded_update(
        SegmentRun.claimed_by == claim.token,
        SegmentRun.full_cursor == cursor,
        full_cursor=to,
        claimed_by=None if done else claim.token,
        claimed_until=None if done else clock.now() + LEASE,
    )


def _full_in_chunks(
    session: Session,
    claim: _Claim,
    rules: list[tags.RuleConfig],
    bins: tiers.TierBins,
    between_chunks: Callable[[Session], None],
) -> RecomputeResult:
    cursor, totals = claim.cursor, (0, 0, 0, 0)
    end = _chunk_end(session, cursor)
    while end is not None:
        session.commit()  # the claim (a second worker sees the run taken) or the chunk before
        if cursor != claim.cursor:
            between_chunks(session)
        if not _move_cursor(session, claim, cursor, end):
            session.rollback()
            return RecomputeResult(True, *totals, claim.as_of, skipped=True)
        done = _sync(session, rules, bins, claim.as_of, queries.customers_between(cursor, end))
        _runs(session).guarded_update(customers_touched=SegmentRun.customers_touched + done[0])
        totals = (totals[0] + done[0], totals[1] + done[1], totals[2] + done[2], totals[3] + done[3])
        cursor, end = end, _chunk_end(session, end)
    if not _move_cursor(session, claim, cursor, None):
        session.rollback()
        return RecomputeResult(True, *totals, claim.as_of, skipped=True)
    return RecomputeResult(True, *totals, claim.as_of)


def last_run(session: Session) -> SegmentRun | None:
    return _runs(session).current()


def full_run_state(run: SegmentRun | None, now: datetime) -> Literal["running", "stalled"] | None:
    """Whether a full recompute is under way ("running": a worker holds it), or stopped half-way with
    its claim lapsed ("stalled": the worker's next sweep resumes it); None when none is unfinished."""
    if run is None or run.full_cursor is None:
        return None
    return "running" if run.claimed_until is not None and run.claimed_until > now else "stalled"


def _recompute(session: Session, now: datetime) -> int:
    return recompute(session, now=now).customers


def segment_refresh(every: timedelta = REFRESH_EVERY) -> Periodic:
    """The worker's sweeper: an incremental recompute at most once per ``every``."""
    return Periodic(_recompute, every, "recomputing tags and tiers")


sweep_segments = registry.sweeper(segment_refresh())
