"""Claiming due rows so that two workers never act on the same one.

PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``, so workers take disjoint batches without
waiting. SQLite: the write transaction is ``BEGIN IMMEDIATE`` (see db.py), which already
lets one worker at a time through. Either way the claim is a lease (``claimed_until``): a
worker that dies mid-batch leaves rows that become claimable again when the lease ends.
The action itself must still be a guarded state change, so a retry changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session


def claim_due(
    session: Session,
    model: Any,
    *,
    due_col: InstrumentedAttribute[Any],
    ready: ColumnElement[bool],
    now: datetime,
    worker_id: str,
    lease: timedelta,
    limit: int,
) -> list[str]:
    """Ids of up to ``limit`` rows due by ``now`` (oldest first) now leased to ``worker_id``."""
    stmt = (
        select(model.id)
        .where(ready, due_col <= now, or_(model.claimed_until.is_(None), model.claimed_until < now))
        .order_by(due_col)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(model).where(model.id.in_(ids)).values(claimed_by=worker_id, claimed_until=now + lease)
        )
    return ids
