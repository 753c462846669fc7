"""The 360 timeline in a real browser: records from the insurer and the DMS arrive through the API, are
linked and projected, and a consultant narrows the timeline by kind, source and days without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from drivetrain.customers.models import ContactPoint
from drivetrain.db import open_database, unit_of_work
from drivetrain.sources.events import project_source_events
from drivetrain.sources.models import SourceRecord
from tests.e2e.conftest import ARTIFACTS, LiveServer, api_client, sign_in

pytestmark = pytest.mark.e2e
PHONE = "13800000002"  # cust_a1b, 李娜, held by sc_a1b
RECORDS = {
    ("e2e-dms", "dms"): [
        {
            "external_id": "RO-9",
            "phone": PHONE,
            "event_date": "2025-11-03",
            "amount": "1280",
            "note": "常规保养",
        },
    ],
    ("e2e-picc", "insurance"): [
        {
            "external_id": "P-9",
            "phone": f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}",
            "event_date": "2025-03-01",
            "expires_on": "2026-02-28",
            "amount": "4200",
        },
    ],
}


def _seed_source_events(server: LiveServer) -> None:
    """Import through the API, then link by phone (as identity resolution would) and project."""
    with api_client(server, "hq_admin") as client:
        for (name, type_), records in RECORDS.items():
            created = client.post("/api/v1/sources", json={"name": name, "type": type_, "trust_rank": 60})
            assert created.status_code == 201, created.text
            posted = client.post(f"/api/v1/sources/{created.json()['id']}/records", json={"records": records})
            assert posted.status_code == 200 and posted.json()["rejected"] == 0, posted.text
    db = open_database(server.database_url)
    try:
        with unit_of_work(db) as session:
            customer_id = session.scalar(
                select(ContactPoint.customer_id).where(ContactPoint.value == "+86" + PHONE)
            )
            session.execute(update(SourceRecord).values(customer_id=customer_id))
            assert project_source_events(session) == 2
    finally:
        db.dispose()


def _shown(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all("#timeline-events li[data-kind]", "items => items.map(i => i.dataset.kind)")
    )


def _wait_until_shown(page: Any, kinds: list[str]) -> None:
    """Until the timeline shows exactly these kinds, newest first (a response may still be on its way)."""
    script = (
        "want => JSON.stringify([...document.querySelectorAll('#timeline-events li[data-kind]')]"
        ".map(i => i.dataset.kind)) === JSON.stringify(want)"
    )
    page.wait_for_function(script, arg=kinds)


def test_consultant_filters_the_timeline_without_a_reload(live_server: LiveServer, browser: Any) -> None:
    _seed_source_events(live_server)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.base, "sc_a1b", "/customers")
    page.fill("input[name=q]", PHONE)
    page.locator("#results a", has_text="李娜").click()
    page.wait_for_url(f"{live_server.base}/customers/*")
    timeline = page.locator("#timeline-events").inner_text()
    assert "保养 · e2e-dms · ¥1,280" in timeline and "保险到期 2026-02-28" in timeline
    everything = _shown(page)
    assert everything[-2:] == ["service_visit", "insurance_policy"]  # imported last, yet placed by date
    page.evaluate("window.__not_reloaded = true")  # gone if the page reloads

    page.select_option("select[name=group]", "insurance")
    _wait_until_shown(page, ["insurance_policy"])
    assert "group=insurance" in page.url

    page.select_option("select[name=group]", "")
    page.select_option("select[name=source]", "e2e-dms")
    _wait_until_shown(page, ["service_visit"])

    page.select_option("select[name=source]", "")
    page.fill("input[name=since]", "2025-01-01")
    page.fill("input[name=until]", "2025-06-30")
    _wait_until_shown(page, ["insurance_policy"])
    assert page.evaluate("window.__not_reloaded") is True

    page.fill("input[name=since]", "")
    page.fill("input[name=until]", "")
    _wait_until_shown(page, everything)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "customer_timeline.png"), full_page=True)
    context.close()
