"""The identity API and console: runs, the review queue, merge and unmerge, the golden record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.models import ContactPoint, Customer
from drivetrain.kit.i18n import LANG_COOKIE
from drivetrain.sources import service as sources
from drivetrain.sources.models import SourceType
from drivetrain.sources.schemas import SourceCreate
from tests.conftest import Console
from tests.world import World, vin_for

RUN = {"match_probability": 0.6, "review_probability": 0.2}


def _import(session: Session, *records: dict[str, Any]) -> None:
    source = sources.register_source(
        session, SYSTEM, data=SourceCreate(name="dms-api", type=SourceType.DMS, trust_rank=70)
    )
    sources.import_batch(session, SYSTEM, source, profile=None, records=list(records))
    session.commit()


def _queue_a_duplicate_pair(session: Session, world: World) -> None:
    """A record tying cust_a1's phone and car to cust_a1b's WeChat id: a pair of existing customers."""
    session.add(
        ContactPoint(customer_id=world.customers["cust_a1b"], kind="wechat_unionid", value="o6_apiQ9dVb4n2")
    )
    _import(
        session,
        {
            "external_id": "A1",
            "name": "张伟",
            "phone": "13800000001",
            "vin": vin_for(1),
            "wechat_unionid": "o6_apiQ9dVb4n2",
        },
    )


def test_a_run_then_a_decision_merges_and_the_merge_can_be_undone(
    session: Session, world: World, client_for: Any
) -> None:
    _queue_a_duplicate_pair(session, world)
    hq = client_for("hq_ops")
    run = hq.post("/api/v1/resolution-runs", json=RUN)
    assert run.status_code == 201, run.text
    assert run.json()["records"] >= 1 and run.json()["review_pairs"] >= 1
    assert hq.get("/api/v1/resolution-runs").json()[0]["id"] == run.json()["id"]

    queue = hq.get("/api/v1/match-reviews").json()["items"]
    pair = next(item for item in queue if item["reason"] == "existing customers")
    assert pair["left"]["dealer"].startswith("A1 ") and pair["right"]["dealer"].startswith("A1 ")
    assert {pair["left"]["customer_id"], pair["right"]["customer_id"]} <= {
        world.customers["cust_a1"],
        world.customers["cust_a1b"],
    }
    decided = hq.post(
        f"/api/v1/match-reviews/{pair['id']}/decision", json={"same": True, "comment": "一人两档"}
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["review"]["status"] == "same" and body["merge_id"]
    survivor = body["survivor_id"]
    merged = ({world.customers["cust_a1"], world.customers["cust_a1b"]} - {survivor}).pop()
    again = hq.post(f"/api/v1/match-reviews/{pair['id']}/decision", json={"same": False})
    assert again.status_code == 409

    golden = hq.get(f"/api/v1/customers/{survivor}/golden").json()
    assert golden["merges"][0]["merged_id"] == merged and golden["records"]
    assert hq.get(f"/api/v1/customers/{merged}").json()["id"] == merged  # old links still answer

    undone = hq.post(f"/api/v1/customer-merges/{body['merge_id']}/undo", json={"reason": "两个人"})
    assert undone.status_code == 200 and undone.json()["unmerged_at"]
    assert (
        hq.post(f"/api/v1/customer-merges/{body['merge_id']}/undo", json={"reason": "再次"}).status_code
        == 409
    )
    session.expire_all()
    assert session.get(Customer, merged).merged_into_id is None  # type: ignore[union-attr]


def test_bad_merges_are_refused_with_the_field(world: World, client_for: Any) -> None:
    hq = client_for("hq_admin")
    target = world.customers["cust_a1"]
    itself = hq.post(f"/api/v1/customers/{target}/merges", json={"merged_id": target, "reason": "x1"})
    assert itself.status_code == 422 and "merged_id" in itself.text
    unknown = hq.post(
        f"/api/v1/customers/{target}/merges", json={"merged_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "reason": "x1"}
    )
    assert unknown.status_code == 422 and "merged_id" in unknown.text
    no_reason = hq.post(f"/api/v1/customers/{target}/merges", json={"merged_id": world.customers["cust_a2"]})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    bad_run = hq.post("/api/v1/resolution-runs", json={"match_probability": 0.3, "review_probability": 0.5})
    assert bad_run.status_code == 422


def test_dealer_staff_may_read_a_golden_record_but_not_resolve_or_merge(
    world: World, client_for: Any
) -> None:
    manager = client_for("sm_a1")
    own = world.customers["cust_a1"]
    golden = manager.get(f"/api/v1/customers/{own}/golden")
    assert golden.status_code == 200
    assert {field["field"] for field in golden.json()["fields"]} >= {"name", "phone"}
    assert manager.post("/api/v1/resolution-runs", json=RUN).status_code == 403
    assert manager.get("/api/v1/match-reviews").status_code == 403
    merge = {"merged_id": world.customers["cust_a1b"], "reason": "same person"}
    assert manager.post(f"/api/v1/customers/{own}/merges", json=merge).status_code == 403
    assert manager.get(f"/api/v1/customers/{world.customers['cust_b1']}/golden").status_code == 404


def test_the_console_review_queue_decides_in_place(session: Session, world: World, console: Any) -> None:
    _queue_a_duplicate_pair(session, world)
    hq: Console = console("hq_ops")
    from drivetrain.unify.config import ResolveConfig
    from drivetrain.unify.service import run_resolution

    run_resolution(session, SYSTEM, ResolveConfig(threads=1, memory_limit="256MB"))
    session.commit()
    page = hq.get("/identity/review")
    assert page.status_code == 200 and "可能是两位已有客户的重复" in page.text
    from drivetrain.unify.models import MatchReview

    review_id = session.scalar(select(MatchReview.id).where(MatchReview.reason == "existing customers"))
    answer = hq.post(f"/identity/review/{review_id}", {"decision": "different", "comment": "父子"}, htmx=True)
    assert answer.status_code == 200 and "已判定为不同人" in answer.text
    assert console("sm_a1").get("/identity/review").status_code == 403


def test_the_identity_panel_merges_and_unmerges_from_the_360_page(
    session: Session, world: World, console: Any
) -> None:
    hq: Console = console("hq_admin")
    survivor, merged = world.customers["cust_a2"], world.customers["cust_a1b"]
    panel = hq.get(f"/customers/{survivor}/identity")
    assert panel.status_code == 200 and "合并到此客户" in panel.text
    done = hq.post(f"/customers/{survivor}/merge", {"merged_id": merged, "reason": "同一车主"})
    assert done.status_code == 303
    panel = hq.get(f"/customers/{survivor}/identity")
    assert "同一车主" in panel.text and "撤销合并" in panel.text
    assert "该客户已合并到" in hq.get(f"/customers/{merged}/identity").text
    bad = hq.post(f"/customers/{survivor}/merge", {"merged_id": survivor, "reason": "x1"})
    assert bad.status_code == 422
    from drivetrain.unify.models import CustomerMerge

    merge_id = session.scalar(select(CustomerMerge.id).where(CustomerMerge.survivor_id == survivor))
    undone = hq.post(f"/identity/merges/{merge_id}/undo", {"reason": "两位车主"})
    assert undone.status_code == 303 and undone.headers["location"] == f"/customers/{survivor}"
    assert "已撤销" in hq.get(f"/customers/{survivor}/identity").text
    assert "该客户已合并到" not in hq.get(f"/customers/{merged}/identity").text
    viewer = console("sm_a1").get(f"/customers/{world.customers['cust_a1']}/identity")
    assert viewer.status_code == 200 and "合并到此客户" not in viewer.text


def test_the_golden_record_shows_gender_in_words(session: Session, world: World, console: Any) -> None:
    customer = session.get(Customer, world.customers["cust_a1"])
    assert customer is not None
    customer.gender = "f"
    session.commit()
    hq: Console = console("hq_admin")
    panel = hq.get(f"/customers/{customer.id}/identity").text
    assert "<td>女</td>" in panel and "<td>f</td>" not in panel
    hq.client.cookies.set(LANG_COOKIE, "en")
    assert "<td>Female</td>" in hq.get(f"/customers/{customer.id}/identity").text
