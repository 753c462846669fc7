"""Query budgets (``tests/query_budget.py``) for the customer, dealer, audit and case lists, and the rule
that every list and detail route of the access matrix has a budget pinned somewhere."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from drivetrain.cases import service as case_service
from drivetrain.cases.models import Channel
from drivetrain.cases.schemas import CaseCreate
from drivetrain.customers import service as customers
from drivetrain.customers.schemas import CustomerCreate, VehicleCreate
from drivetrain.db import Database
from tests.query_budget import all_pinned, assert_within_budget, measure, signed_in
from tests.test_access_matrix import MATRIX, ListRoute, ObjectRoute
from tests.world import World, vin_for


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


REQUESTS = {
    "GET /api/v1/customers": ("customers", "api", "/api/v1/customers"),
    "GET /api/v1/customers/{customer_id}": ("customers", "api", "/api/v1/customers/{customer_id}"),
    "GET /api/v1/vehicles": ("customers", "api", "/api/v1/vehicles"),
    "GET /customers": ("customers", "console", "/customers"),
    "GET /api/v1/dealers": ("org", "api", "/api/v1/dealers"),
    "GET /dealers": ("org", "console", "/dealers"),
    "GET /api/v1/audit": ("auth", "api", "/api/v1/audit"),
    "GET /api/v1/cases": ("cases", "api", "/api/v1/cases"),
    "GET /cases": ("cases", "console", "/cases?view=active"),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    api, console = signed_in(session, world, "hq_admin")
    domain, kind, path = REQUESTS[name]
    client = api if kind == "api" else console
    path = path.format(customer_id=world.customers["cust_a1"])
    counts = measure(db, client, path, lambda numbers: _grow(session, world, numbers))
    assert_within_budget(domain, name, counts)


def _pinned_routes() -> set[tuple[str, str]]:
    """Pinned request names are ``METHOD /path`` (a variant adds words after it)."""
    return {tuple(name.split(" ")[:2]) for name in all_pinned()}  # type: ignore[misc]


def test_every_list_and_detail_route_of_the_access_matrix_has_a_budget() -> None:
    wanted = {
        route
        for route, entry in MATRIX.items()
        if route[0] == "GET" and isinstance(entry, ObjectRoute | ListRoute)
    }
    missing = sorted(wanted - _pinned_routes())
    assert not missing, f"routes without a query budget: {missing}"
