"""A case's pages and its approvals are pinned in ``tests/cases/query_counts.json``: the count must not
grow with a case's history and approval requests, nor with the cases a dealer holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from drivetrain.cases import service
from drivetrain.cases.approvals import service as approvals
from drivetrain.cases.approvals.schemas import ApprovalCreate
from drivetrain.cases.models import ApprovalKind, Case, Channel
from drivetrain.cases.schemas import CaseCreate, CaseNote
from drivetrain.db import Database
from tests.query_budget import assert_within_budget, measure, signed_in
from tests.world import World

ASKING = "sm_a1"
"""The store manager of A1, where the cases grow, asks."""
WORKERS = ("sa_a1", "sm_a1")
"""Who writes the notes and asks for approvals, in turn: the pages name people, so each name must not
cost a query."""
REQUESTS = {
    "GET /api/v1/cases/{case_id}": ("api", "/api/v1/cases/{case_id}"),
    "GET /cases/{case_id}": ("console", "/cases/{case_id}"),
    "GET /api/v1/cases/{case_id}/approvals": ("api", "/api/v1/cases/{case_id}/approvals"),
    "GET /api/v1/approvals/{approval_id}": ("api", "/api/v1/approvals/{approval_id}"),
}


@dataclass
class Shown:
    """The case the detail pages show, and its first approval request."""

    case: Case
    approval_id: str = ""


def _open(session: Session, world: World, n: int) -> Case:
    data = CaseCreate(description=f"发动机异响{n}", channel=Channel.HOTLINE, dealer_code="A1")
    return service.open_case(session, world.subject("hq_ops"), data=data)


def _grow(session: Session, world: World, shown: Shown, numbers: range) -> None:
    """Per number: a note and an approval request on the shown case, by each worker in turn; and another
    case at A1 with a request of its own."""
    for n in numbers:
        worker = world.subject(WORKERS[n % len(WORKERS)])
        service.add_note(session, worker, shown.case, data=CaseNote(note=f"已联系车主{n}"))
        data = ApprovalCreate(kind=ApprovalKind.GOODWILL, amount=Decimal(100 + n), reason=f"补偿{n}")
        approval = approvals.request_approval(session, world.subject("sa_a1"), shown.case, data=data)
        shown.approval_id = shown.approval_id or approval.id
        approvals.request_approval(session, world.subject("sa_a1"), _open(session, world, n), data=data)
    session.commit()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    api, console = signed_in(session, world, ASKING)
    shown = Shown(_open(session, world, -1))
    session.commit()
    kind, path = REQUESTS[name]
    client = api if kind == "api" else console

    def url() -> str:
        return path.format(case_id=shown.case.id, approval_id=shown.approval_id)

    counts = measure(db, client, url, lambda numbers: _grow(session, world, shown, numbers))
    assert_within_budget("cases", name, counts)
