"""A bearer token's subject is cached for a few seconds: a revoked token stops working within that time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from drivetrain.auth.deps import TOKEN_CACHE_SECONDS
from drivetrain.auth.models import ApiToken
from drivetrain.kit import clock


@pytest.mark.usefixtures("frozen_clock")
def test_a_revoked_token_is_refused_once_the_cache_time_has_passed(client_for, session: Session) -> None:
    client = client_for("hq_ops")
    assert client.get("/api/v1/me").status_code == 200
    session.execute(update(ApiToken).values(revoked_at=clock.now()))
    session.commit()
    assert client.get("/api/v1/me").status_code == 200  # still cached: the documented delay
    clock.advance(timedelta(seconds=TOKEN_CACHE_SECONDS + 1))
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
