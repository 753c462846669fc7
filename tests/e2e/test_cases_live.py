"""Cases in a real browser: an owner's complaint is not answered within its rung's budget, the worker
escalates it, and the store manager sees it arrive in their list without a reload; they approve the
return the advisor asked for (within a store manager's authority) and resolve the case."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, api_client, sign_in

pytestmark = pytest.mark.e2e
COMPLAINT = "新车提回来一周变速箱顿挫严重，4S店说正常，要求退车"


@pytest.fixture
def fast_ladder(live_server: LiveServer) -> Iterator[httpx.Client]:
    """Every rung of a high-priority case (a return demanded) gets ten seconds, round the clock: long
    enough for the manager to act before the next rung, short enough for a test. Defaults come back after."""
    with api_client(live_server, "hq_ops") as hq:
        before = hq.get("/api/v1/sla-policies").json()
        high = next(p for p in before if p["priority"] == "high")
        fast = {"first_response_seconds": 60, "resolution_seconds": 3600, "escalation_seconds": 10}
        answer = hq.put("/api/v1/sla-policies/high", json=fast | {"business_hours": False})
        assert answer.status_code == 200, answer.text
        yield hq
        keep = ("first_response_seconds", "resolution_seconds", "escalation_seconds", "business_hours")
        assert hq.put("/api/v1/sla-policies/high", json={k: high[k] for k in keep}).status_code == 200


def test_store_manager_sees_an_escalated_case_live_approves_a_return_and_resolves(
    live_server: LiveServer, browser: Any, fast_ladder: httpx.Client
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.base, "sm_a1", "/cases")
    page.evaluate("window.__marker = 1")  # gone if the page reloads or navigates

    with api_client(live_server, "sa_a1") as advisor:
        opened = fast_ladder.post(
            "/api/v1/cases", json={"description": COMPLAINT, "channel": "hotline", "dealer_code": "A1"}
        )
        assert opened.status_code == 201, opened.text
        case = opened.json()
        assert (case["owner"], case["escalation_level"], case["priority"]) == ("sa_a1", 0, "high")

        row = page.locator(f'#case-list tr[data-case="{case["id"]}"]')
        row.wait_for(timeout=20_000)  # ten seconds on the advisor's rung, then the worker moves it up
        assert page.evaluate("window.__marker") == 1
        assert "店总" in row.inner_text()
        page.locator(".toast", has_text="工单升级到你").wait_for()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cases_escalated.png"), full_page=True)

        asked = advisor.post(
            f"/api/v1/cases/{case['id']}/approvals",
            json={"kind": "return", "amount": "152800.00", "reason": "新车七天内变速箱故障，客户要求退车"},
        )
        assert asked.status_code == 201, asked.text
        approval = asked.json()
        assert approval["approver"] == "sm_a1"

        page.goto(f"{live_server.base}/cases/{case['id']}")
        item = page.locator(f'[data-approval="{approval["id"]}"]')
        item.locator("textarea[name=comment]").fill("同意退车，按新车发票金额退款")
        item.locator('button[value="approve"]').click()
        page.locator(f'[data-approval="{approval["id"]}"] .approval-status-approved').wait_for()

        page.fill(".resolve-form textarea[name=note]", "已为客户办理退车，客户确认")
        page.click(".resolve-form button[type=submit]")
        page.locator(".case-status.status-resolved").wait_for()
        page.screenshot(path=str(ARTIFACTS / "cases_resolved.png"), full_page=True)

        final = advisor.get(f"/api/v1/cases/{case['id']}").json()
        assert final["status"] == "resolved" and final["escalation_level"] >= 1
        kinds = [h["kind"] for h in final["history"]]
        assert kinds.index("escalated") < kinds.index("approval_approved") < kinds.index("resolved")
        decided = advisor.get(f"/api/v1/approvals/{approval['id']}").json()
        assert (decided["status"], decided["decided_by"]) == ("approved", "sm_a1")
    context.close()
