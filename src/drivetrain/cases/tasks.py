"""Worker job: sweep escalation deadlines, oldest first, one rung per case per pass."""

from __future__ import annotations

import logging
from datetime import timedelta

from drivetrain.cases.models import Case, CaseStatus
from drivetrain.cases.service import escalate_due
from drivetrain.db import Database, unit_of_work
from drivetrain.jobs.claims import claim_due
from drivetrain.kit import clock

BATCH = 200
log = logging.getLogger(__name__)
LEASE = timedelta(minutes=1)


def sweep_escalations(db: Database, worker_id: str) -> int:
    """Claim one batch of cases whose rung budget ran out, then escalate them in one transaction,
    each in a savepoint: one commit per batch (a disk sync on PostgreSQL), and a case that fails
    is rolled back alone, logged, and retried when its claim expires."""
    now = clock.now()
    with unit_of_work(db) as session:
        ids = claim_due(
            session,
            Case,
            due_col=Case.escalation_due_at,
            ready=(Case.status == CaseStatus.OPEN) & Case.escalation_due_at.is_not(None),
            now=now,
            worker_id=worker_id,
            lease=LEASE,
            limit=BATCH,
        )
    acted = 0
    with unit_of_work(db) as session:
        for case_id in ids:
            try:
                with session.begin_nested():
                    acted += escalate_due(session, case_id, now=now)
            except Exception:
                log.exception("escalating case %s failed", case_id)
    return acted
