"""Leads lists and pages are pinned in ``tests/leads/query_counts.json``: the count must not grow with the
number of leads a dealer holds, nor with one lead's follow-ups and history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from drivetrain.db import Database
from drivetrain.leads import service
from drivetrain.leads.capture import capture
from drivetrain.leads.models import Channel
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadCreate
from tests.query_budget import assert_within_budget, measure, signed_in
from tests.world import World

CONSULTANT = "sc_a1"
"""Holds the leads that grow (at dealer A1) and is the one asking: "my tasks" are theirs."""
REQUESTS = {
    "GET /api/v1/leads": ("api", "/api/v1/leads"),
    "GET /api/v1/leads/{lead_id}": ("api", "/api/v1/leads/{lead_id}"),
    "GET /api/v1/tasks": ("api", "/api/v1/tasks"),
    "GET /leads": ("console", "/leads"),
    "GET /leads/board": ("console", "/leads/board"),
    "GET /leads/{lead_id}": ("console", "/leads/{lead_id}"),
}


def _grow(session: Session, world: World, numbers: range) -> None:
    """New customers' leads captured by the consultant, each with a follow-up; and one more follow-up
    (a task and a history line) on the lead the detail pages show."""
    subject = world.subject(CONSULTANT)
    repo = LeadRepository(session)
    shown = repo.get_readable(subject, world.leads["cust_a1"])
    due = datetime(2026, 12, 2, tzinfo=UTC)
    for n in numbers:
        data = LeadCreate(name=f"客户{n}", phone=f"1392222{n:04d}", series="锐界", channel=Channel.WEBSITE)
        lead = capture(session, subject, data=data).lead
        service.add_task(session, subject, lead, due_at=due, note=f"回访{n}")
        service.add_task(session, subject, shown, due_at=due, note=f"再访{n}")
    session.commit()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    api, console = signed_in(session, world, CONSULTANT)
    kind, path = REQUESTS[name]
    client = api if kind == "api" else console
    url = path.format(lead_id=world.leads["cust_a1"])
    counts = measure(db, client, url, lambda numbers: _grow(session, world, numbers))
    assert_within_budget("leads", name, counts)
