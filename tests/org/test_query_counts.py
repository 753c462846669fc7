"""A dealer's page and its staff list are pinned in ``tests/org/query_counts.json``: the count must not
grow with the dealer's staff or customers."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from drivetrain.auth.roles import Role
from drivetrain.customers import service as customers
from drivetrain.customers.schemas import CustomerCreate
from drivetrain.db import Database
from drivetrain.org.staff import Anchor, create_staff
from tests.query_budget import assert_within_budget, measure, signed_in
from tests.world import World

REQUESTS = {
    "GET /api/v1/dealers/{code}": ("api", "/api/v1/dealers/A1"),
    "GET /api/v1/dealers/{code}/staff": ("api", "/api/v1/dealers/A1/staff"),
    "GET /dealers/{code}": ("console", "/dealers/A1"),
}


def _grow(session: Session, world: World, numbers: range) -> None:
    """More consultants and customers at A1."""
    for n in numbers:
        create_staff(
            session,
            world.subject("hq_admin"),
            username=f"sc_extra_{n}",
            password=None,
            role=Role.SALES_CONSULTANT,
            anchor=Anchor(dealer_code="A1"),
        )
        customers.create_customer(
            session,
            world.subject("sm_a1"),
            data=CustomerCreate(name=f"客户{n}", phone=f"1392222{n:04d}", consultant="sc_a1"),
        )
    session.commit()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    api, console = signed_in(session, world, "hq_admin")
    kind, path = REQUESTS[name]
    counts = measure(
        db, api if kind == "api" else console, path, lambda numbers: _grow(session, world, numbers)
    )
    assert_within_budget("org", name, counts)
