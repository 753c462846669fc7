"""Query counts per request are pinned in ``query_counts.json``: an N+1 shows up as a failing number.

Each list is requested with few rows and with many; the count must not grow with the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.cases import service as case_service
from drivetrain.cases.models import Channel
from drivetrain.cases.schemas import CaseCreate
from drivetrain.customers import service as customers
from drivetrain.customers.schemas import CustomerCreate, VehicleCreate
from drivetrain.db import Database
from tests.world import World, vin_for

BASELINE: dict[str, int] = json.loads((Path(__file__).parent / "query_counts.json").read_text())


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    assert db.pinned is not None
    event.listen(db.pinned, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.pinned, "before_cursor_execute", record)


def _grow(session: Session, world: World, numbers: range) -> None:
    """More customers, cars, cases and audit rows at A1, so list pages fill up."""
    subject = world.subject("sm_a1")
    for n in numbers:
        customer = customers.create_customer(
            session,
            subject,
            data=CustomerCreate(name=f"客户{n}", phone=f"1391111{n:04d}", consultant="sc_a1"),
        )
        customers.register_vehicle(
            session, subject, data=VehicleCreate(vin=vin_for(700 + n), customer_id=customer.id)
        )
        complaint = CaseCreate(description="发动机异响", phone=f"1391111{n:04d}", channel=Channel.HOTLINE)
        case_service.open_case(session, subject, data=complaint)
    session.commit()


def _clients(session: Session, world: World, db: Database) -> tuple[TestClient, TestClient]:
    from drivetrain.app import create_app

    plain, _ = auth_service.create_token(
        session, world.subject("hq_admin"), user=world.users["hq_admin"], name="q"
    )
    cookie, _ = auth_service.open_console_session(session, world.users["hq_admin"])
    session.commit()
    app = create_app()
    api = TestClient(app, headers={"Authorization": f"Bearer {plain}"})
    console = TestClient(app)
    console.cookies.set("dt_session", cookie)
    api.get("/api/v1/me")  # the token's subject is then cached for a few seconds, as between real requests
    return api, console


REQUESTS = {
    "GET /api/v1/customers": ("api", "/api/v1/customers"),
    "GET /api/v1/customers/{customer_id}": ("api", "/api/v1/customers/{customer_id}"),
    "GET /api/v1/vehicles": ("api", "/api/v1/vehicles"),
    "GET /api/v1/dealers": ("api", "/api/v1/dealers"),
    "GET /api/v1/audit": ("api", "/api/v1/audit"),
    "GET /api/v1/cases": ("api", "/api/v1/cases"),
    "GET /cases": ("console", "/cases?view=active"),
    "GET /customers": ("console", "/customers"),
    "GET /dealers": ("console", "/dealers"),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    api, console = _clients(session, world, db)
    kind, path = REQUESTS[name]
    client = api if kind == "api" else console
    path = path.format(customer_id=world.customers["cust_a1"])
    client.get(path)  # caches filled, as between real requests: only the request's own queries count
    counts = []
    for numbers in (
        range(1),
        range(1, 13),
    ):  # one row of each kind first, so no query is skipped for want of rows
        _grow(session, world, numbers)
        with counted(db) as statements:
            answer = client.get(path)
        assert answer.status_code == 200, answer.text[:300]
        counts.append(len(statements))
    assert counts[0] == counts[1], f"{name}: {counts[0]} queries with few rows, {counts[1]} with more (N+1?)"
    assert counts[0] == BASELINE[name], f"{name}: {counts[0]} queries, baseline {BASELINE[name]}"
