"""The owner's side of closing the loop, in a real browser on a phone: a resolved complaint's survey
link opens without signing in, the owner taps a score, writes a line and sends it; the case shows it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from drivetrain.cases.csat import service as csat
from drivetrain.cases.models import Case
from drivetrain.db import open_database, unit_of_work
from drivetrain.jobs.models import OutboxMessage
from tests.e2e.conftest import ARTIFACTS, LiveServer, api_client

pytestmark = pytest.mark.e2e


def _survey_path(server: LiveServer, case_id: str) -> str:
    """The link the owner got by SMS. Sent on resolving once ``change_status`` calls ``send_survey``;
    until then (and harmlessly after) this sends it, as the resolving transaction would."""
    db = open_database(server.database_url)
    try:
        with unit_of_work(db) as session:
            case = session.get(Case, case_id)
            assert case is not None
            csat.send_survey(session, case)
        with unit_of_work(db) as session:
            links = [
                m.payload["link"]
                for m in session.scalars(select(OutboxMessage).where(OutboxMessage.topic == csat.SMS_TOPIC))
                if m.payload.get("out_id") == case_id
            ]
    finally:
        db.dispose()
    [link] = links
    return "/survey/" + link.rsplit("/survey/", 1)[1]


def test_an_owner_rates_a_resolved_case_on_a_phone(live_server: LiveServer, browser: Any) -> None:
    with api_client(live_server, "sa_a1") as advisor:
        opened = advisor.post(
            "/api/v1/cases",
            json={"description": "保养后发动机异响，很不满意", "channel": "hotline", "phone": "13800000001"},
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["id"]
        resolved = advisor.post(
            f"/api/v1/cases/{case_id}/status", json={"status": "resolved", "note": "已紧固隔热罩，异响消除"}
        )
        assert resolved.status_code == 200, resolved.text
        path = _survey_path(live_server, case_id)

        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
        page = context.new_page()
        page.goto(live_server.base + path)
        assert "服务满意度评价" in page.title() and "保养后发动机异响" in page.inner_text("main")
        page.locator("label.score", has=page.locator('input[value="4"]')).click()
        page.fill("textarea[name=comment]", "处理及时，服务顾问很耐心")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "survey_phone.png"), full_page=True)
        page.click("button[type=submit]")
        page.get_by_text("感谢您的评价").wait_for()
        assert "您的评分：4 分" in page.inner_text("main")
        page.screenshot(path=str(ARTIFACTS / "survey_thanks_phone.png"), full_page=True)
        page.goto(live_server.base + path)
        assert "您已经评价过" in page.inner_text("main")
        context.close()

        history = advisor.get(f"/api/v1/cases/{case_id}").json()["history"]
        assert [h["note"] for h in history if h["kind"] == "csat"] == ["CSAT 4/5"]
