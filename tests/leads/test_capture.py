"""Capturing leads through the API: routing with reasons, idempotency, dedupe into touches, bad input."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.customers.models import Customer
from drivetrain.jobs.models import Event, OutboxMessage
from drivetrain.leads.models import Lead, LeadTouch
from tests.world import World

BINJIANG = "浙江省杭州市滨江区江南大道100号"


def _lead(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "周杰",
        "phone": "13700001111",
        "address": BINJIANG,
        "series": "锐界",
        "channel": "ad",
        "campaign": "双11",
        "source_ref": None,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_capture_routes_to_the_nearest_dealer_and_explains(
    client_for, session: Session, world: World
) -> None:
    answer = client_for("integration").post("/api/v1/leads", json=_lead())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["dealer_code"] == "A1" and body["consultant"] in {"sc_a1", "sc_a1b"}
    assert body["status"] == "new" and body["first_contact_due_at"]
    assert [r["code"] for r in body["routing"]["dealer"]] == ["nearest"]
    assert body["routing"]["consultant"][-1]["code"] == "least_load"
    lead = session.get(Lead, body["id"])
    assert lead is not None
    events = [
        e
        for e in session.scalars(select(Event).where(Event.type == "lead.assigned"))
        if e.payload["lead_id"] == lead.id
    ]
    assert len(events) == 1 and events[0].recipient_id == lead.consultant_id
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "wecom.app_message")).all()
    mine = [m for m in messages if m.payload.get("lead_id") == lead.id]
    assert len(mine) == 1 and mine[0].payload["to"] == [body["consultant"]]


def test_returning_owner_goes_back_to_their_dealer(client_for, world: World) -> None:
    # 刘洋 is a B1 (Chengdu) customer; a lead from Hangzhou still goes home to B1.
    answer = client_for("integration").post(
        "/api/v1/leads", json=_lead(name="刘洋", phone="13800000004", series="领界")
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["dealer_code"] == "B1" and answer.json()["consultant"] == "sc_b1"
    assert answer.json()["routing"]["dealer"][0]["code"] == "relationship"
    assert answer.json()["routing"]["consultant"][0]["code"] == "relationship_consultant"
    assert answer.json()["customer_id"] == world.customers["cust_b1"]


def test_same_idempotency_key_or_source_ref_returns_the_first_lead(client_for, session: Session) -> None:
    client = client_for("integration")
    before = session.scalar(select(func.count()).select_from(Lead))
    first = client.post("/api/v1/leads", json=_lead(), headers={"Idempotency-Key": "ad-1"})
    again = client.post("/api/v1/leads", json=_lead(), headers={"Idempotency-Key": "ad-1"})
    assert first.json()["id"] == again.json()["id"]
    by_ref = [
        client.post("/api/v1/leads", json=_lead(phone="13700002222", source_ref="clk-9")) for _ in range(2)
    ]
    assert by_ref[0].json()["id"] == by_ref[1].json()["id"]
    assert session.scalar(select(func.count()).select_from(Lead)) == before + 2


def test_a_new_touch_on_an_open_lead_is_not_a_new_lead(client_for, session: Session) -> None:
    client = client_for("integration")
    first = client.post("/api/v1/leads", json=_lead(channel="ad", campaign="双11", click_id="c1"))
    second = client.post(
        "/api/v1/leads", json=_lead(channel="live_stream", campaign="直播间", phone="137 0000 1111")
    )
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"] and second.json()["deduplicated"] is True
    touches = session.scalars(
        select(LeadTouch).where(LeadTouch.lead_id == first.json()["id"]).order_by(LeadTouch.at)
    )
    assert [(t.channel, t.campaign) for t in touches] == [("ad", "双11"), ("live_stream", "直播间")]
    other_series = client.post("/api/v1/leads", json=_lead(series="领界"))
    assert other_series.json()["id"] != first.json()["id"]
    assert session.scalar(select(func.count()).select_from(Customer).where(Customer.name == "周杰")) == 1


def test_bad_input_names_the_field_and_stores_nothing(client_for, session: Session) -> None:
    client = client_for("integration")
    before = session.scalar(select(func.count()).select_from(Lead))
    customers_before = session.scalar(select(func.count()).select_from(Customer))
    for field, body in (
        ("phone", _lead(phone="12345")),
        ("series", _lead(series="Model Z")),
        ("channel", _lead(channel="carrier_pigeon")),
        ("name", _lead(name="")),
    ):
        answer = client.post("/api/v1/leads", json=body)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["errors"][0]["field"] == field
    assert session.scalar(select(func.count()).select_from(Lead)) == before
    assert session.scalar(select(func.count()).select_from(Customer)) == customers_before


def test_lead_far_from_any_dealer_goes_to_the_region_pool(client_for) -> None:
    answer = client_for("integration").post("/api/v1/leads", json=_lead(address="西藏自治区阿里地区噶尔县"))
    assert answer.status_code == 201, answer.text
    codes = [r["code"] for r in answer.json()["routing"]["dealer"]]
    assert "region_pool" in codes and answer.json()["dealer_code"] in {"A1", "A2", "B1"}


def test_consultant_capture_stays_with_them(client_for) -> None:
    answer = client_for("sc_a1").post(
        "/api/v1/leads", json=_lead(channel="walk_in", address="四川省成都市武侯区")
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["dealer_code"] == "A1" and answer.json()["consultant"] == "sc_a1"


def test_stage_moves_and_lost_needs_a_reason(client_for) -> None:
    client = client_for("integration")
    lead = client.post("/api/v1/leads", json=_lead()).json()
    worker = client_for(lead["consultant"])
    assert worker.post(f"/api/v1/leads/{lead['id']}/stage", json={"stage": "ordered"}).status_code == 422
    moved = worker.post(f"/api/v1/leads/{lead['id']}/stage", json={"stage": "contacted"})
    assert (
        moved.status_code == 200
        and moved.json()["first_contacted_at"]
        and moved.json()["first_contact_due_at"] is None
    )
    lost = worker.post(f"/api/v1/leads/{lead['id']}/stage", json={"stage": "lost"})
    assert lost.status_code == 422 and lost.json()["errors"][0]["field"] == "lost_reason"
    detail = worker.get(f"/api/v1/leads/{lead['id']}").json()
    assert [h["kind"] for h in detail["history"]] == ["assigned", "stage"]
    timeline = worker.get(f"/api/v1/customers/{lead['customer_id']}/timeline").json()["items"]
    assert {"lead.captured", "lead.contacted"} <= {e["kind"] for e in timeline}


def test_manual_reassignment_needs_authority_and_a_reason(client_for) -> None:
    lead = client_for("integration").post("/api/v1/leads", json=_lead()).json()
    other = "sc_a1b" if lead["consultant"] == "sc_a1" else "sc_a1"
    denied = client_for(lead["consultant"]).post(
        f"/api/v1/leads/{lead['id']}/reassign", json={"consultant": other, "reason": "休假"}
    )
    assert denied.status_code == 403
    moved = client_for("sm_a1").post(
        f"/api/v1/leads/{lead['id']}/reassign", json={"consultant": other, "reason": "休假"}
    )
    assert moved.status_code == 200 and moved.json()["consultant"] == other
    wrong_dealer = client_for("sm_a1").post(
        f"/api/v1/leads/{lead['id']}/reassign", json={"consultant": "sc_b1", "reason": "x"}
    )
    assert wrong_dealer.status_code == 422
