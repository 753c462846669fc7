"""Leads in a real browser: a lead captured through the API appears in the consultant's open inbox
without a reload (Server-Sent Events), and the board moves it on to "contacted"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, api_client, sign_in

pytestmark = pytest.mark.e2e
BINJIANG = "浙江省杭州市滨江区江南大道300号"


@pytest.fixture
def only_sc_a1_on_duty(live_server: LiveServer) -> Iterator[httpx.Client]:
    """Binjiang leads go to A1; with sc_a1b off duty, sc_a1 gets them. Yields an HQ operations client."""
    with api_client(live_server, "hq_ops") as hq:
        assert hq.put("/api/v1/staff/sc_a1b/duty", json={"on_duty": False}).status_code == 200
        yield hq
        assert hq.put("/api/v1/staff/sc_a1b/duty", json={"on_duty": True}).status_code == 200


def test_a_new_lead_appears_live_and_moves_on_the_board(
    live_server: LiveServer, browser: Any, only_sc_a1_on_duty: httpx.Client
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.base, "sc_a1", "/leads")
    page.evaluate("window.__marker = 1")  # gone if the page reloads or navigates

    body = {"name": "周杰", "phone": "13700009999", "address": BINJIANG, "series": "锐界", "channel": "ad",
            "campaign": "双11", "click_id": "clk-e2e"}  # fmt: skip
    with api_client(live_server, "integration") as integration:
        captured = integration.post("/api/v1/leads", json=body)
        assert captured.status_code == 201, captured.text
        lead = captured.json()
        assert (lead["dealer_code"], lead["consultant"]) == ("A1", "sc_a1")

        row = page.locator(f'#inbox tr[data-lead="{lead["id"]}"]')
        row.wait_for(timeout=10_000)
        assert page.evaluate("window.__marker") == 1
        assert "周杰" in row.inner_text() and "锐界" in row.inner_text()
        page.locator(".toast", has_text="新线索：周杰").wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "leads_inbox.png"), full_page=True)

        page.goto(f"{live_server.base}/leads/board")
        card = page.locator(f'[data-stage="new"] [data-lead="{lead["id"]}"]')
        card.locator('button[value="contacted"]').click()
        page.locator(f'[data-stage="contacted"] [data-lead="{lead["id"]}"]').wait_for()
        assert page.locator(f'[data-stage="new"] [data-lead="{lead["id"]}"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "leads_board.png"), full_page=True)

        after = integration.get(f"/api/v1/leads/{lead['id']}").json()
        assert after["status"] == "contacted" and after["first_contacted_at"]
    context.close()


def test_board_scrolls_sideways_on_a_phone_and_the_lead_page_fits(
    live_server: LiveServer, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.base, "sm_a1", "/leads/board")
    kanban = page.locator(".kanban")
    assert kanban.evaluate("k => k.scrollWidth > k.clientWidth")  # the columns scroll, not the page
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leads_board_phone.png"), full_page=True)
    page.locator(".lead-card a").first.click()
    page.wait_for_url(f"{live_server.base}/leads/*")
    assert "为什么是这家店" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(ARTIFACTS / "lead_page_phone.png"), full_page=True)
    context.close()
