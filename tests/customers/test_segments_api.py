"""Tags and tiers over the API and the console: scope (a dealer never tags another dealer's customer),
HQ-only configuration, 422s that name the field."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.app import create_app
from drivetrain.auth.models import AuditEntry
from drivetrain.customers.models import Customer
from drivetrain.customers.segments import api as segments_api
from drivetrain.customers.segments import tags, tiers
from drivetrain.customers.segments import tasks as segments_tasks
from drivetrain.customers.segments import views as segments_views
from drivetrain.customers.segments.models import CustomerValue
from drivetrain.customers.segments.tags import Rule
from drivetrain.kit import clock
from tests.customers.test_tags import NOW, TODAY, car, event, person
from tests.world import World

NEV = tags.TAG_NAMES[Rule.NEV_OWNER]


def with_segments(app: FastAPI) -> FastAPI:
    """The app with the segment routers in front, as app.py is to include them (a no-op once it does)."""
    if any(getattr(route, "path", "") == "/api/v1/segments/rules" for route in app.router.routes):
        return app
    api = APIRouter(prefix="/api/v1")
    api.include_router(segments_api.router)
    extra = APIRouter()
    extra.include_router(api)
    extra.include_router(segments_views.router)
    app.router.routes[0:0] = extra.routes
    return app


@pytest.fixture(autouse=True)
def segment_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.conftest.create_app", lambda: with_segments(create_app()))


@pytest.fixture
def now() -> Iterator[datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


def test_dealer_tags_own_customer_but_not_another_dealers(client_for, world: World, session: Session) -> None:
    client = client_for("sm_a1")
    mine, theirs = world.customers["cust_a1"], world.customers["cust_b1"]

    answer = client.post(f"/api/v1/customers/{mine}/tags", json={"tags": ["试驾意向"]})
    assert answer.status_code == 200, answer.text
    assert {"name": "试驾意向", "kind": "manual"} in answer.json()["tags"]
    assert client.post(f"/api/v1/customers/{theirs}/tags", json={"tags": ["试驾意向"]}).status_code == 404
    assert client.delete(f"/api/v1/customers/{theirs}/tags/vip").status_code == 404
    assert client.get(f"/api/v1/customers/{theirs}/segments").status_code == 404
    # sc_a1 sees only their own customer, not a colleague's at the same dealer.
    assert (
        client_for("sc_a1").delete(f"/api/v1/customers/{world.customers['cust_a1b']}/tags/vip").status_code
        == 404
    )

    assert client.delete(f"/api/v1/customers/{mine}/tags/试驾意向").status_code == 204
    assert "试驾意向" not in [
        t["name"] for t in client.get(f"/api/v1/customers/{mine}/segments").json()["tags"]
    ]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == mine)).all()
    assert {"customer.tag", "customer.untag"} <= set(actions)


def test_rule_tag_name_is_422_naming_tags(client_for, world: World) -> None:
    client = client_for("hq_ops")
    answer = client.post(f"/api/v1/customers/{world.customers['cust_a1']}/tags", json={"tags": [NEV]})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["tags"]


def test_tag_counts_are_over_the_callers_customers(client_for) -> None:
    def vip(username: str) -> int:
        rows = client_for(username).get("/api/v1/tags").json()
        return int(next(r["customers"] for r in rows if r["name"] == "vip"))

    assert (vip("hq_ops"), vip("region_east"), vip("sm_a1"), vip("sc_a1")) == (5, 3, 2, 1)


def test_rules_are_hq_configuration(client_for, world: World, session: Session, now: datetime) -> None:
    assert client_for("sm_a1").get("/api/v1/segments/rules").status_code == 403
    assert client_for("ceo").put("/api/v1/segments/rules/insurance_expiring", json={}).status_code == 403
    assert client_for("sm_a1").post("/api/v1/segments/recompute").status_code == 403

    customer = person(session, "六十天")
    event(session, customer, "insurance_policy", now, expires_on=(TODAY + timedelta(days=45)).isoformat())
    session.commit()
    hq = client_for("hq_ops")
    rules = {r["rule"]: r for r in hq.get("/api/v1/segments/rules").json()}
    assert rules["insurance_expiring"]["params"] == {"within_days": 30}
    bad = hq.put("/api/v1/segments/rules/insurance_expiring", json={"params": {"within_days": 0}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "params.within_days"

    saved = hq.put("/api/v1/segments/rules/insurance_expiring", json={"params": {"within_days": 60}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["params"] == {"within_days": 60} and saved.json()["customers"] >= 1
    segments = hq.get(f"/api/v1/customers/{customer.id}/segments").json()
    assert {"name": tags.TAG_NAMES[Rule.INSURANCE_EXPIRING], "kind": "rule"} in segments["tags"]


def test_tier_bins_validated_and_recompute(client_for, session: Session, now: datetime) -> None:
    customer = person(session, "大客户")
    event(session, customer, "purchase", now - timedelta(days=5), amount=300_000.0)
    car(session, customer, series="Mustang Mach-E")
    session.commit()
    hq = client_for("hq_admin")
    bad = hq.put("/api/v1/segments/tiers", json={"recency_days": [90, 30]})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["recency_days"]
    assert client_for("sm_a1").put("/api/v1/segments/tiers", json={}).status_code == 403

    done = hq.post("/api/v1/segments/recompute")
    assert done.status_code == 200 and done.json()["full"] is True
    segments = hq.get(f"/api/v1/customers/{customer.id}/segments").json()
    assert segments["tier"]["tier"] == "gold" and segments["tier"]["monetary"] == 300_000.0
    assert {"name": NEV, "kind": "rule"} in segments["tags"]
    counts = hq.get("/api/v1/segments/tiers").json()["customers"]
    assert set(counts) == {"platinum", "gold", "silver", "standard"} and counts["gold"] >= 1
    # A dealer's counts are over its own customers only (the HQ customer above is not one).
    dealer_counts = client_for("sm_b1").get("/api/v1/segments/tiers").json()["customers"]
    assert dealer_counts["gold"] == 0 and sum(dealer_counts.values()) == 1  # cust_b1 alone


def test_a_rule_change_recomputes_every_customer_in_chunks(
    client_for, session: Session, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's full run goes chunk by chunk like the worker's, and ends finished."""
    monkeypatch.setattr(segments_tasks, "CHUNK_CUSTOMERS", 2)
    chunks: list[int] = []
    sync_tiers = tiers.sync_tiers

    def counted(*args: Any, **kwargs: Any) -> int:
        chunks.append(sync_tiers(*args, **kwargs))
        return chunks[-1]

    monkeypatch.setattr(tiers, "sync_tiers", counted)
    customer = person(session, "分批重算")
    event(session, customer, "insurance_policy", now, expires_on=(TODAY + timedelta(days=45)).isoformat())
    session.commit()
    everyone = session.scalar(select(func.count()).select_from(Customer)) or 0

    saved = client_for("hq_ops").put(
        "/api/v1/segments/rules/insurance_expiring", json={"params": {"within_days": 60}}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["customers"] >= 1
    assert len(chunks) == math.ceil(everyone / 2)
    run = segments_tasks.last_run(session)
    assert run is not None and run.full_cursor is None and run.customers_touched == everyone
    assert session.scalar(select(func.count()).select_from(CustomerValue)) == sum(chunks)


def test_console_panel_tags_in_scope_only(console, world: World, session: Session) -> None:
    browser = console("sm_a1")
    mine, theirs = world.customers["cust_a1"], world.customers["cust_b1"]
    panel = browser.get(f"/customers/{mine}/tags")
    assert panel.status_code == 200 and 'id="customer-tags"' in panel.text and ">vip" in panel.text
    assert browser.get(f"/customers/{theirs}/tags").status_code == 404
    assert browser.post(f"/customers/{theirs}/tags", {"tag": "x"}, htmx=True).status_code == 404

    added = browser.post(f"/customers/{mine}/tags", {"tag": "老客户转介绍"}, htmx=True)
    assert added.status_code == 200 and "老客户转介绍" in added.text
    refused = browser.post(f"/customers/{mine}/tags", {"tag": NEV}, htmx=True)
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    removed = browser.post(f"/customers/{mine}/tags/remove", {"tag": "老客户转介绍"}, htmx=True)
    assert removed.status_code == 200 and "老客户转介绍" not in removed.text
    assert browser.post(f"/customers/{mine}/tags", {"tag": "x"}, csrf=False).status_code == 403


def test_console_segments_page_for_hq(console, session: Session) -> None:
    assert console("sm_a1").get("/customers/segments").status_code == 403
    assert 'href="/customers/segments"' not in console("sm_a1").get("/customers").text
    ops = console("hq_ops")
    assert 'href="/customers/segments"' in ops.get("/customers").text  # found from the customer list
    page = ops.get("/customers/segments")
    assert page.status_code == 200 and 'id="rule-insurance_expiring"' in page.text
    bad = ops.post(
        "/customers/segments/tiers",
        {
            "recency_days": "90, 30",
            "frequency": "1,2",
            "monetary": "1000",
            "window_days": "730",
            "silver_min": "2",
            "gold_min": "3",
            "platinum_min": "4",
        },
    )
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    good = ops.post(
        "/customers/segments/tiers",
        {
            "recency_days": "30，90",
            "frequency": "1 2",
            "monetary": "1000",
            "window_days": "730",
            "silver_min": "2",
            "gold_min": "3",
            "platinum_min": "4",
        },
    )
    assert good.status_code == 303
    rule = ops.post(
        "/customers/segments/rules/frequent_service",
        {"min_visits": "0", "window_days": "365", "enabled": "on"},
    )
    assert rule.status_code == 422 and 'aria-invalid="true"' in rule.text
    assert ops.post("/customers/segments/recompute", {}).status_code == 303
    assert 'role="status"' in ops.get("/customers/segments?done=recompute").text


def test_segments_page_says_when_a_full_recompute_is_unfinished(
    console, session: Session, now: datetime
) -> None:
    """While a full run is under way its progress shows; once its claim lapses, that it will be resumed."""
    ops = console("hq_ops")
    segments_tasks.recompute(session, full=True)
    session.commit()
    assert "data-full-run" not in ops.get("/customers/segments").text
    run = segments_tasks.last_run(session)
    assert run is not None
    run.full_cursor, run.customers_touched = "0" * 26, 1234
    run.claimed_by, run.claimed_until = "someone", clock.now() + timedelta(minutes=5)
    session.commit()
    page = ops.get("/customers/segments").text
    assert 'data-full-run="running"' in page and "已完成 1234 位客户" in page and "上次重算" not in page
    clock.advance(timedelta(minutes=6))
    assert 'data-full-run="stalled"' in ops.get("/customers/segments").text
