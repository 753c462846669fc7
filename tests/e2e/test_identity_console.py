"""HQ customer operations in a real browser: an owner registered again at a second store is found by
identity resolution and queued for review; "same person" merges the two in place; the 360 page's
identity panel shows the merge and undoes it; then the merge is made by hand from the panel and the
merged record points at the survivor."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, api_client, sign_in

pytestmark = pytest.mark.e2e


def test_review_a_duplicate_then_unmerge_and_merge_from_the_360_page(
    live_server: LiveServer, browser: Any
) -> None:
    with api_client(live_server, "hq_ops") as hq:
        # 刘洋 (13800000004) of store B1 registered again at store A2
        twin = hq.post(
            "/api/v1/customers", json={"name": "刘洋", "phone": "13800000004", "dealer_code": "A2"}
        )
        assert twin.status_code == 201, twin.text
        run = hq.post("/api/v1/resolution-runs", json={})
        assert run.status_code == 201 and run.json()["review_pairs"] >= 1, run.text
        twin_id = twin.json()["id"]

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live_server.base, "hq_ops", "/identity/review")
        card = page.locator("article.review-pair", has_text="刘洋")
        card.get_by_role("button", name="同一人").click()
        decided = page.get_by_role("status").filter(has_text="已判定为同一人")
        decided.wait_for()
        decided.get_by_role("link").click()  # to the survivor's 360 page

        panel = page.locator("#identity-panel")
        panel.locator(".merges").get_by_text("刘洋").or_(panel.locator(".merges li")).first.wait_for()
        survivor_path = page.url.removeprefix(live_server.base)
        assert twin_id not in survivor_path  # the store that registered them first keeps the record
        undo = panel.locator(".merges form")
        undo.locator("input[name=reason]").fill("核实后是两个人")
        undo.get_by_role("button", name="撤销合并").click()
        page.wait_for_url(f"{live_server.base}{survivor_path}")
        page.locator("#identity-panel .merges .badge").get_by_text("已撤销").wait_for()

        form = page.locator("#identity-panel .merge-form")
        form.locator("input[name=merged_id]").fill(twin_id)
        form.locator("input[name=reason]").fill("同一位车主在两家店的档案")
        form.get_by_role("button", name="合并到此客户").click()
        page.wait_for_url(f"{live_server.base}{survivor_path}")
        page.locator("#identity-panel .merges").get_by_text("同一位车主在两家店的档案").wait_for()

        page.goto(f"{live_server.base}/customers/{twin_id}")
        page.locator("#identity-panel").get_by_text("该客户已合并到").wait_for()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "identity-console.png"))
        raise
    finally:
        context.close()
