"""Source lists are pinned in ``tests/sources/query_counts.json``: the count must not grow with runs or
records."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.subject import SYSTEM
from drivetrain.db import Database
from drivetrain.sources import service
from drivetrain.sources.models import Source, SourceType
from drivetrain.sources.schemas import SourceCreate
from tests.query_budget import assert_within_budget, counted
from tests.world import World

REQUESTS = {  # baseline name: (path, who asks)
    "GET /api/v1/sources": ("/api/v1/sources", "hq_ops"),
    "GET /api/v1/sources/{source_id}/records": ("/api/v1/sources/{source_id}/records", "hq_ops"),
    # Masked for a role without pii:read: the import runs' mappings say which raw cells are personal.
    "GET /api/v1/sources/{source_id}/records (masked)": ("/api/v1/sources/{source_id}/records", "hq_admin"),
    "GET /api/v1/sources/{source_id}/imports": ("/api/v1/sources/{source_id}/imports", "hq_ops"),
}


def _grow(session: Session, source: Source, numbers: range) -> None:
    """Another source, and one more import run with a record per number, each run by an API batch."""
    service.register_source(
        session, SYSTEM, data=SourceCreate(name=f"erp-{numbers.start}", type=SourceType.ERP, trust_rank=50)
    )
    records = [{"external_id": f"R{n}", "phone": f"1391111{n:04d}", "name": "王先生"} for n in numbers]
    service.import_batch(session, SYSTEM, source, profile=None, records=records)
    session.commit()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    path, username = REQUESTS[name]
    source = service.register_source(
        session, SYSTEM, data=SourceCreate(name="dms", type=SourceType.DMS, trust_rank=80)
    )
    plain, _ = auth_service.create_token(session, SYSTEM, user=world.users[username], name="q")
    session.commit()
    from drivetrain.app import create_app

    client = TestClient(create_app(), headers={"Authorization": f"Bearer {plain}"})
    client.get("/api/v1/me")  # the token's subject is then cached, as between real requests
    counts = []
    for numbers in (range(1), range(1, 13)):
        _grow(session, source, numbers)
        with counted(db) as statements:
            answer = client.get(path.format(source_id=source.id))
        assert answer.status_code == 200, answer.text[:300]
        counts.append(len(statements))
    assert_within_budget("sources", name, counts)
