"""The console in a real browser: a consultant finds a customer by phone and opens the 360 page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, sign_in

pytestmark = pytest.mark.e2e


def test_consultant_finds_customer_by_phone_and_opens_360(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server.base, "sc_a1", "/customers")
    page.fill("input[name=q]", "138 0000 0001")  # typed the way people type it
    row_link = page.locator("#results a", has_text="张伟")
    row_link.wait_for()
    assert page.locator("#results tbody tr").count() == 1
    row_link.click()
    page.wait_for_url(f"{live_server.base}/customers/*")
    assert page.locator("h1").inner_text().startswith("张伟")
    assert "+8613800000001" in page.locator(".facts").inner_text()
    assert page.locator(".vehicle").count() == 1
    assert "客户建档" in page.locator(".timeline").inner_text()  # the label, not the raw kind
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "customer_360.png"), full_page=True)
    context.close()


def test_consultant_cannot_find_another_consultants_customer(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server.base, "sc_a1", "/customers")
    page.goto(f"{live_server.base}/customers?q=13800000002")
    assert page.locator("#results tbody tr").count() == 0
    context.close()


def test_language_switch_and_phone_layout(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, live_server.base, "sm_a1", "/customers")
    assert page.locator("h1").inner_text() == "客户"
    page.click("a.lang")
    assert page.locator("h1").inner_text() == "Customers"
    page.goto(f"{live_server.base}/dealers/A1")
    assert "杭州滨江福特4S店" in page.locator("h1").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dealer_page_phone.png"), full_page=True)
    context.close()
