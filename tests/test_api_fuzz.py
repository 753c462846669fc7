"""Schemathesis walks the OpenAPI description with generated requests: nothing may answer 5xx,
and every error is problem+json.

The operations are driven with Hypothesis directly (one pytest test per operation), so the
test database fixture wraps every generated request.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session

from drivetrain.app import create_app
from drivetrain.auth import service as auth_service
from drivetrain.db import Database
from tests.world import World

SCHEMA = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app())
# The event stream never ends by design; it is exercised by the browser tests and the lead benchmark.
STREAMING = {"/api/v1/events"}
# Each example of these runs a whole job (identity resolution over the database): a few examples
# cover their input checks.
EXAMPLES = {("POST", "/api/v1/resolution-runs"): 4}
OPERATIONS = [
    op for op in (result.ok() for result in SCHEMA.get_all_operations()) if op.path not in STREAMING
]


@pytest.fixture
def bearer(db: Database, world: World, session: Session) -> dict[str, str]:
    plain, _ = auth_service.create_token(
        session, world.subject("hq_admin"), user=world.users["hq_admin"], name="fuzz"
    )
    session.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors(operation: Any, bearer: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES.get((operation.method.upper(), operation.path), 20),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=bearer)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
        if response.status_code >= 400:
            content_type = response.headers["content-type"]
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type.startswith("application/problem+json"), response.text[:200]

    run()
