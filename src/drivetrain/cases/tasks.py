"""Worker job: sweep escalation deadlines, oldest first, one rung per case per pass."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from drivetrain.cases.escalation import escalate_due_cases
from drivetrain.cases.models import Case, CaseStatus
from drivetrain.db import Database, unit_of_work
from drivetrain.jobs import registry
from drivetrain.jobs.claims import claim_due
from drivetrain.kit import clock

BATCH = 25
"""Cases per tick. A busy tick of the steady flow finds a handful; after downtime the worker catches up
tick after tick, each holding SQLite's single writer (or a PostgreSQL transaction) for a few tens of
milliseconds, not for a stretch that lead capture would queue behind (bench/escalation_sweep.py)."""
log = logging.getLogger(__name__)
LEASE = timedelta(minutes=1)


@registry.sweeper
def sweep_escalations(db: Database, worker_id: str) -> int:
    """Claim one batch of cases whose rung budget ran out and escalate it, all in one transaction: one
    commit per batch (a disk sync on PostgreSQL) and a handful of statements whatever its size. Until
    the commit, the claim's row locks (PostgreSQL) or the single writer (SQLite) keep other workers off
    the batch; the guarded move would make a second attempt change nothing anyway.

    Should the batch fail, nothing of it is kept: its cases are claimed again and tried one by one, each
    in a savepoint, so a case that fails is rolled back alone, logged, and retried when its claim expires.
    """
    now = clock.now()
    try:
        with unit_of_work(db) as session:
            return escalate_due_cases(session, _claim(session, worker_id, now=now), now=now)
    except Exception:
        log.exception("escalating a batch of cases failed; trying them one by one")
    acted = 0
    with unit_of_work(db) as session:
        for case_id in _claim(session, worker_id, now=now):
            try:
                with session.begin_nested():
                    acted += escalate_due_cases(session, [case_id], now=now)
            except Exception:
                log.exception("escalating case %s failed", case_id)
    return acted


def _claim(session: Session, worker_id: str, *, now: datetime) -> list[str]:
    return claim_due(
        session,
        Case,
        due_col=Case.escalation_due_at,
        ready=(Case.status == CaseStatus.OPEN) & Case.escalation_due_at.is_not(None),
        now=now,
        worker_id=worker_id,
        lease=LEASE,
        limit=BATCH,
    )
