"""A customer's golden record (API) and identity panel (console) are pinned in
``tests/unify/query_counts.json``: as many statements with one linked record and merge as with 25."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.customers import service as customers
from drivetrain.customers.schemas import CustomerCreate
from drivetrain.db import Database
from drivetrain.sources import service as sources
from drivetrain.sources.models import SourceType
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.schemas import SourceCreate
from drivetrain.unify import merge
from drivetrain.unify.repository import ResolutionRepository
from tests.query_budget import assert_within_budget, measure, signed_in
from tests.world import World

REQUESTS = {  # name: (api or console, path)
    "GET /api/v1/customers/{customer_id}/golden": ("api", "/api/v1/customers/{customer_id}/golden"),
    "GET /customers/{customer_id}/identity": ("console", "/customers/{customer_id}/identity"),
}


def _grow(session: Session, world: World, numbers: range) -> None:
    """A source record linked to A1 and a customer merged into A1, per number."""
    survivor = world.customers["cust_a1"]
    source = sources.register_source(
        session, SYSTEM, data=SourceCreate(name=f"dms-{numbers.start}", type=SourceType.DMS, trust_rank=80)
    )
    records = [{"external_id": f"R{n}", "phone": f"1392222{n:04d}", "name": "张伟"} for n in numbers]
    sources.import_batch(session, SYSTEM, source, profile=None, records=records)
    session.flush()
    stored = SourceRepository(session).records(source, external_id=None, cursor=None, limit=100)
    ResolutionRepository(session).relink([(record.id, survivor) for record in stored])
    subject = world.subject("hq_admin")
    for n in numbers:
        twin = customers.create_customer(
            session, subject, data=CustomerCreate(name=f"张伟{n}", phone=f"1393333{n:04d}")
        )
        merge.merge_customers(session, subject, survivor_id=survivor, merged_id=twin.id, reason="同一人")
    session.commit()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    kind, path = REQUESTS[name]
    api, console = signed_in(session, world, "hq_admin")
    url = path.format(customer_id=world.customers["cust_a1"])
    counts = measure(
        db, api if kind == "api" else console, url, lambda numbers: _grow(session, world, numbers)
    )
    assert_within_budget("unify", name, counts)
