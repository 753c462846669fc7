"""Worker job: sweep first-contact deadlines, oldest first."""

from __future__ import annotations

from datetime import timedelta

from drivetrain.db import Database, unit_of_work
from drivetrain.jobs import registry
from drivetrain.jobs.claims import claim_due
from drivetrain.kit import clock
from drivetrain.leads.models import Lead, Stage
from drivetrain.leads.sla import breach_first_contact

BATCH = 200
LEASE = timedelta(minutes=1)


@registry.sweeper
def sweep_first_contact(db: Database, worker_id: str) -> int:
    """Claim one batch of overdue leads and act on each in its own transaction; returns how many acted."""
    now = clock.now()
    with unit_of_work(db) as session:
        ids = claim_due(
            session,
            Lead,
            due_col=Lead.first_contact_due_at,
            ready=(Lead.stage == Stage.NEW)
            & Lead.first_contacted_at.is_(None)
            & Lead.first_contact_due_at.is_not(None),
            now=now,
            worker_id=worker_id,
            lease=LEASE,
            limit=BATCH,
        )
    acted = 0
    for lead_id in ids:
        with unit_of_work(db) as session:
            acted += breach_first_contact(session, lead_id, now=now)
    return acted
