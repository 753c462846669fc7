"""Recomputing rule tags and value tiers: in full, or incrementally from the last run's watermark.

Incremental means: the customers with a timeline event newer than the last run, a car or a record
changed since it, a car that changed hands since it (old owners too), plus those whose state moved
only because time passed (each rule and the tiers name their date windows). Everything is a handful of
set-based statements over that set; no loop over customers. Ids are ULIDs, ordered by creation, so
"newer than" is an id comparison; the watermark is read back by ``OVERLAP`` so a transaction that
committed late is still seen (recomputing someone twice changes nothing).

The worker runs it every ``REFRESH_EVERY``: like the defect-alert recount it is not a due row, so the
worker keeps the last time in memory, and a guarded update of the ``segment_run`` row makes a second
worker running at the same moment skip instead of doing the same work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drivetrain.customers import tags, tiers
from drivetrain.customers.models import Customer, Ownership, TimelineEvent, Vehicle
from drivetrain.customers.segment_models import SegmentCandidate, SegmentRun
from drivetrain.jobs.periodic import Periodic
from drivetrain.kit import clock
from drivetrain.kit.ids import new_id

RUN_KEY = "segments"
OVERLAP = timedelta(minutes=2)
REFRESH_EVERY = timedelta(minutes=10)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class RecomputeResult:
    full: bool
    customers: int
    """Customers looked at (all of them on a full run)."""
    tags_added: int
    tags_removed: int
    tiers_written: int
    as_of: datetime
    skipped: bool = False
    """Another run held the watermark (a second worker): nothing was done."""


def id_floor(watermark: str, overlap: timedelta) -> str:
    """The smallest ULID minted ``overlap`` before ``watermark`` was ("" stays "": everything)."""
    if not watermark or overlap <= timedelta(0):
        return watermark
    millis = 0
    for char in watermark[:10]:
        millis = millis * 32 + _CROCKFORD.index(char)
    at_ms = max(0, millis - int(overlap.total_seconds() * 1000))
    return new_id(at_ms)[:10] + "0" * 16


def _changed_since(run: SegmentRun, overlap: timedelta) -> list[Select[Any]]:
    changed_at = run.as_of - overlap
    resold = select(Ownership.vehicle_id).where(Ownership.id > id_floor(run.ownership_watermark, overlap))
    cars = select(Vehicle.id).where(or_(Vehicle.updated_at > changed_at, Vehicle.id.in_(resold)))
    return [
        select(TimelineEvent.customer_id).where(TimelineEvent.id > id_floor(run.event_watermark, overlap)),
        select(Vehicle.owner_id).where(Vehicle.id.in_(cars), Vehicle.owner_id.is_not(None)),
        select(Ownership.customer_id).where(Ownership.vehicle_id.in_(cars)),
        select(Customer.id).where(Customer.updated_at > changed_at),
    ]


def _advance(session: Session, run: SegmentRun | None, values: dict[str, Any]) -> bool:
    """Move the watermark from what this run read; False when another run moved it first."""
    if run is None:
        try:
            with session.begin_nested():
                session.add(SegmentRun(key=RUN_KEY, **values))
        except IntegrityError:
            return False
        return True
    moved = session.execute(
        update(SegmentRun)
        .where(
            SegmentRun.key == RUN_KEY,
            SegmentRun.as_of == run.as_of,
            SegmentRun.event_watermark == run.event_watermark,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def recompute(
    session: Session, *, now: datetime | None = None, full: bool = False, overlap: timedelta = OVERLAP
) -> RecomputeResult:
    """Rule tags and value tiers, as of ``now``; incremental unless ``full`` or never run before."""
    now = now or clock.now()
    rules = tags.ensure_rules(session)
    bins = tiers.load_bins(session)
    run = session.get(SegmentRun, RUN_KEY)
    full = full or run is None
    candidates = None
    if not full:
        assert run is not None
        parts = _changed_since(run, overlap)
        for rule in rules:
            if rule.enabled:
                parts += tags.window_crossers(rule.params, run.as_of, now)
        parts += tiers.window_crossers(bins, run.as_of, now)
        candidates = union(*parts)
    values = {
        "as_of": now,
        "event_watermark": session.scalar(select(func.max(TimelineEvent.id))) or "",
        "ownership_watermark": session.scalar(select(func.max(Ownership.id))) or "",
    }
    if not _advance(session, run, values):
        return RecomputeResult(full, 0, 0, 0, 0, now, skipped=True)
    if candidates is None:
        looked_at = session.scalar(select(func.count()).select_from(Customer)) or 0
        chosen = None
    else:
        session.execute(delete(SegmentCandidate))
        session.execute(insert(SegmentCandidate).from_select(["customer_id"], candidates))
        looked_at = session.scalar(select(func.count()).select_from(SegmentCandidate)) or 0
        chosen = select(SegmentCandidate.customer_id)
    added, removed = tags.sync_rule_tags(session, rules, now=now, candidates=chosen)
    written = tiers.sync_tiers(session, bins, now=now, candidates=chosen)
    if chosen is not None:
        session.execute(delete(SegmentCandidate))
    session.execute(
        update(SegmentRun)
        .where(SegmentRun.key == RUN_KEY)
        .values(customers_touched=looked_at)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return RecomputeResult(full, looked_at, added, removed, written, now)


def last_run(session: Session) -> SegmentRun | None:
    return session.get(SegmentRun, RUN_KEY)


def _recompute(session: Session, now: datetime) -> int:
    return recompute(session, now=now).customers


def segment_refresh(every: timedelta = REFRESH_EVERY) -> Periodic:
    """The worker's sweeper: an incremental recompute at most once per ``every``."""
    return Periodic(_recompute, every, "recomputing tags and tiers")


sweep_segments = segment_refresh()
