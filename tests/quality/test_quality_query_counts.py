"""Quality lists and pages are pinned in ``tests/quality/query_counts.json``: the count must not grow with the
number of cases, cars or alerts."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from drivetrain.db import Database
from drivetrain.quality.service import refresh_alerts
from tests.quality.conftest import SERIES, Cars, Complain
from tests.query_budget import assert_within_budget, counted, signed_in
from tests.world import World

ENGINE_LEAK = "发动机漏油，地库停车位上每天都有一摊油迹"
REQUESTS = {
    "GET /api/v1/quality/clusters": ("api", "/api/v1/quality/clusters"),
    "GET /api/v1/quality/clusters/vehicles": (
        "api",
        f"/api/v1/quality/clusters/vehicles?series={SERIES}&component=brakes&symptom=异响",
    ),
    "GET /api/v1/quality/components": ("api", "/api/v1/quality/components"),
    "GET /api/v1/quality/trend": ("api", "/api/v1/quality/trend"),
    "GET /api/v1/quality/alerts": ("api", "/api/v1/quality/alerts"),
    "GET /api/v1/quality/alerts/{alert_id}": ("api", "/api/v1/quality/alerts/{alert_id}"),
    "GET /quality": ("console", "/quality?alert={alert_id}"),
}


def _grow(session: Session, cars: Cars, complain: Complain, now: datetime) -> None:
    """Seven more cars with brake noise, a second emerging cluster on other cars, and noise elsewhere."""
    for days_ago, vin in enumerate(cars(7), start=1):
        complain(vin, days_ago=days_ago)
    for days_ago, vin in enumerate(cars(6, series="锐界"), start=1):
        complain(vin, days_ago=days_ago, dealer="B1", text=ENGINE_LEAK)
        complain(vin, days_ago=days_ago + 30, dealer="A2", text="中控屏经常黑屏死机")
    refresh_alerts(session, now=now)
    session.commit()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(
    name: str, db: Database, session: Session, world: World, cars: Cars, complain: Complain, now: datetime
) -> None:
    for days_ago, vin in enumerate(cars(5), start=1):
        complain(vin, days_ago=days_ago)
    refresh_alerts(session, now=now)
    session.commit()
    api, console = signed_in(session, world, "quality")
    (alert,) = api.get("/api/v1/quality/alerts").json()
    kind, path = REQUESTS[name]
    client = api if kind == "api" else console
    counts = []
    for grow in (False, True):
        if grow:
            _grow(session, cars, complain, now)
        with counted(db) as statements:
            answer = client.get(path.format(alert_id=alert["id"]))
        assert answer.status_code == 200, answer.text[:300]
        counts.append(len(statements))
    assert_within_budget("quality", name, counts)
