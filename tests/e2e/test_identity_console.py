"""HQ customer operations in a real browser: a service visit by an owner's wife, on his phone and
car, is queued for review and decided "different people" in place; then two customers are merged
from the 360 page's identity panel, the merged one points at the survivor, and the merge is undone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, api_client, sign_in
from tests.world import vin_for

pytestmark = pytest.mark.e2e


def _customer_id(client: Any, phone: str, name: str) -> str:
    found = client.get("/api/v1/customers", params={"phone": phone}).json()["items"]
    [customer] = [item for item in found if item["name"] == name]
    return str(customer["id"])


def test_review_a_pair_then_merge_and_unmerge_from_the_360_page(
    live_server: LiveServer, browser: Any
) -> None:
    with api_client(live_server, "hq_ops") as hq:
        source = hq.post("/api/v1/sources", json={"name": "service-e2e", "type": "crm", "trust_rank": 40})
        assert source.status_code == 201, source.text
        # 刘洋's wife brings his car (VIN serial 4) in, giving his phone
        sent = hq.post(
            f"/api/v1/sources/{source.json()['id']}/records",
            json={
                "records": [
                    {"external_id": "U1", "name": "赵雅芝", "phone": "13800000004", "vin": vin_for(4)}
                ]
            },
        )
        assert sent.status_code == 200, sent.text
        run = hq.post("/api/v1/resolution-runs", json={})
        assert run.status_code == 201 and run.json()["review_pairs"] >= 1, run.text
        survivor = _customer_id(hq, "13800000004", "刘洋")
        merged = _customer_id(hq, "13800000005", "陈静")

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live_server.base, "hq_ops", "/identity/review")
        card = page.locator("article.review-pair", has_text="赵雅芝")
        card.get_by_role("button", name="不同人").click()
        page.get_by_role("status").filter(has_text="已判定为不同人").wait_for()

        page.goto(f"{live_server.base}/customers/{survivor}")
        panel = page.locator("#identity-panel")
        panel.wait_for()
        panel.locator("input[name=merged_id]").fill(merged)
        panel.locator(".merge-form input[name=reason]").fill("同一位车主的两份档案")
        panel.get_by_role("button", name="合并到此客户").click()
        page.wait_for_url(f"{live_server.base}/customers/{survivor}")
        page.locator("#identity-panel .merges").get_by_text("同一位车主的两份档案").wait_for()

        page.goto(f"{live_server.base}/customers/{merged}")
        page.locator("#identity-panel").get_by_text("该客户已合并到").wait_for()

        page.goto(f"{live_server.base}/customers/{survivor}")
        undo = page.locator("#identity-panel .merges form")
        undo.locator("input[name=reason]").fill("核实后是两个人")
        undo.get_by_role("button", name="撤销合并").click()
        page.wait_for_url(f"{live_server.base}/customers/{survivor}")
        page.locator("#identity-panel .merges .badge").get_by_text("已撤销").wait_for()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "identity-console.png"))
        raise
    finally:
        context.close()
