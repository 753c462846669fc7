"""Approvals on cases: routed up the ladder by amount, four eyes, decided once, forwarded above a lowered
limit, scoped like their case, and the authority matrix as audited data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.cases import service as case_service
from drivetrain.cases.approvals import service
from drivetrain.cases.approvals.schemas import ApprovalCreate, ApprovalDecision
from drivetrain.cases.models import ApprovalRequest, AuthorityLimit, Case, CaseHistory
from drivetrain.cases.schemas import CaseCreate
from drivetrain.db import Database
from drivetrain.jobs.models import Event, OutboxMessage
from drivetrain.kit.errors import Conflict, Forbidden
from tests.query_budget import assert_within_budget, counted
from tests.world import World

NOISE = "保养后发动机有异响，很不满意"  # a product issue at A1: sa_a1, sm_a1, region_east, hq_ops, ceo


@pytest.fixture
def case(session: Session, world: World) -> Case:
    data = CaseCreate(description=NOISE, channel="hotline", dealer_code="A1")  # type: ignore[arg-type]
    opened = case_service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return opened


def _request(
    session: Session, world: World, case: Case, kind: str, amount: str, *, by: str = "sa_a1"
) -> ApprovalRequest:
    data = ApprovalCreate(kind=kind, amount=Decimal(amount), reason="发动机异响，客户要求补偿")  # type: ignore[arg-type]
    approval = service.request_approval(session, world.subject(by), case, data=data)
    session.commit()
    return approval


def _name(world: World, user_id: str | None) -> str | None:
    return next((name for name, user in world.users.items() if user.id == user_id), None)


def _count(session: Session, model: Any, *where: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.mark.parametrize(
    ("kind", "amount", "approver", "level"),
    [
        ("refund", "300.00", "sm_a1", 1),  # the advisor may approve 500 but not their own request
        ("refund", "50000", "region_east", 2),
        ("refund", "1000000", "ceo", 4),
        ("return", "250000.50", "sm_a1", 1),  # a frontline manager may approve a return
        ("goodwill", "150000", "hq_ops", 3),
    ],
)
def test_requests_route_by_amount(
    session: Session, world: World, case: Case, kind: str, amount: str, approver: str, level: int
) -> None:
    approval = _request(session, world, case, kind, amount)
    assert (_name(world, approval.approver_id), approval.approver_level) == (approver, level)
    assert approval.status == "pending" and approval.amount_cents == int(Decimal(amount) * 100)
    history = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == case.id, CaseHistory.kind == "approval_requested")
    ).one()
    assert history.detail == {"approval_id": approval.id, "kind": kind, "amount_cents": approval.amount_cents}
    assert history.actor_id == world.users["sa_a1"].id
    event = session.scalars(select(Event).where(Event.type == "approval.requested")).one()
    assert event.recipient_id == world.users[approver].id and event.payload["approval_id"] == approval.id
    wecom = [m.payload for m in session.scalars(select(OutboxMessage)) if m.payload.get("approval_id")]
    assert [m["to"] for m in wecom] == [[approver]]
    assert _count(session, AuditEntry, AuditEntry.entity_id == approval.id) == 1


def test_nobody_on_the_ladder_qualifies_is_422_on_amount(
    session: Session, world: World, case: Case, client_for
) -> None:
    session.execute(AuthorityLimit.__table__.delete().where(AuthorityLimit.kind == "discount"))
    session.commit()
    answer = client_for("sa_a1").post(
        f"/api/v1/cases/{case.id}/approvals", json={"kind": "discount", "amount": "10", "reason": "r"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "amount"
    assert "no one on this case's ladder" in answer.text
    assert _count(session, ApprovalRequest) == 0


def test_approve_within_authority_and_four_eyes(
    session: Session, world: World, case: Case, client_for
) -> None:
    asked = client_for("sa_a1").post(
        f"/api/v1/cases/{case.id}/approvals",
        json={"kind": "refund", "amount": "300", "reason": "保养工时多收"},
    )
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert (body["amount"], body["approver"], body["requested_by"], body["status"]) == (
        "300.00",
        "sm_a1",
        "sa_a1",
        "pending",
    )
    decision = f"/api/v1/approvals/{body['id']}/decision"
    own = client_for("sa_a1").post(decision, json={"decision": "approve"})
    assert own.status_code == 403, own.text  # four eyes, although the advisor's limit covers it
    answer = client_for("sm_a1").post(decision, json={"decision": "approve", "comment": "同意"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["decided_by"], answer.json()["comment"]) == (
        "approved",
        "sm_a1",
        "同意",
    )
    session.expire_all()
    decided = session.scalars(select(Event).where(Event.type == "approval.decided")).one()
    assert decided.recipient_id == world.users["sa_a1"].id
    kinds = session.scalars(
        select(CaseHistory.kind)
        .where(CaseHistory.case_id == case.id)
        .order_by(CaseHistory.at, CaseHistory.id)
    ).all()
    assert kinds[-2:] == ["approval_requested", "approval_approved"]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == body["id"])).all()
    assert sorted(actions) == ["approval.approve", "approval.request"]
    shown = client_for("sm_a1").get(f"/api/v1/cases/{case.id}/approvals").json()
    assert [(a["id"], a["status"]) for a in shown] == [(body["id"], "approved")]
    assert [a.status for a in service.approval_reads(session, case.id)] == ["approved"]


def test_above_a_lowered_limit_approving_forwards_up(
    session: Session, world: World, case: Case, client_for
) -> None:
    approval = _request(session, world, case, "refund", "15000")
    assert _name(world, approval.approver_id) == "sm_a1"
    lowered = client_for("hq_ops").put(
        "/api/v1/approval-authority/refund/store_manager", json={"max_amount": "10000.00"}
    )
    assert lowered.status_code == 200, lowered.text
    decision = f"/api/v1/approvals/{approval.id}/decision"
    forwarded = client_for("sm_a1").post(decision, json={"decision": "approve"})
    assert forwarded.status_code == 200, forwarded.text
    assert (forwarded.json()["status"], forwarded.json()["approver"], forwarded.json()["approver_level"]) == (
        "pending",
        "region_east",
        2,
    )
    again = client_for("sm_a1").post(decision, json={"decision": "approve"})
    assert again.status_code == 403, again.text  # no longer theirs, and above their limit
    session.expire_all()
    history = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == case.id, CaseHistory.kind == "approval_forwarded")
    ).one()
    assert history.actor_id == world.users["sm_a1"].id and "region_east" in (history.note or "")
    notified = session.scalars(select(Event.recipient_id).where(Event.type == "approval.requested")).all()
    assert sorted(notified) == sorted([world.users["sm_a1"].id, world.users["region_east"].id])
    approved = client_for("region_east").post(decision, json={"decision": "approve"})
    assert (approved.status_code, approved.json()["status"]) == (200, "approved")
    assert [e.status for e in service.pending_for(session, world.subject("region_east"))] == []


def test_the_holder_may_reject_above_a_lowered_limit(session: Session, world: World, case: Case) -> None:
    approval = _request(session, world, case, "refund", "15000")
    cell = session.get(AuthorityLimit, ("refund", "store_manager"))
    assert cell is not None
    cell.max_amount_cents = 10_000 * 100
    session.commit()
    with pytest.raises(Forbidden):  # a manager elsewhere, whose limit does not cover it
        service.decide(
            session, world.subject("sm_a2"), approval, data=ApprovalDecision(decision="reject", comment="不")
        )
    decided = service.decide(
        session,
        world.subject("sm_a1"),
        approval,
        data=ApprovalDecision(decision="reject", comment="不符合政策"),
    )
    assert (decided.status, decided.comment) == ("rejected", "不符合政策")


def test_reject_needs_a_comment_and_changes_nothing_without_one(
    session: Session, world: World, case: Case, client_for
) -> None:
    approval = _request(session, world, case, "goodwill", "800")
    decision = f"/api/v1/approvals/{approval.id}/decision"
    for body in ({"decision": "reject"}, {"decision": "reject", "comment": "   "}):
        answer = client_for("sm_a1").post(decision, json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "comment"
    assert _count(session, AuditEntry, AuditEntry.entity_id == approval.id) == 1  # the request only
    assert session.get(ApprovalRequest, approval.id).status == "pending"  # type: ignore[union-attr]
    answer = client_for("sm_a1").post(decision, json={"decision": "reject", "comment": "已送保养券"})
    assert (answer.status_code, answer.json()["status"]) == (200, "rejected")
    assert _count(session, CaseHistory, CaseHistory.kind == "approval_rejected") == 1


def test_a_second_decision_is_409_and_one_is_recorded(
    db: Database, session: Session, world: World, case: Case, client_for
) -> None:
    approval = _request(session, world, case, "refund", "300")
    decision = f"/api/v1/approvals/{approval.id}/decision"
    first = client_for("sm_a1").post(decision, json={"decision": "approve"})
    second = client_for("region_east").post(decision, json={"decision": "reject", "comment": "不"})
    assert (first.status_code, second.status_code) == (200, 409)
    assert _count(session, CaseHistory, CaseHistory.kind.in_(["approval_approved", "approval_rejected"])) == 1
    assert _count(session, AuditEntry, AuditEntry.action.in_(["approval.approve", "approval.reject"])) == 1


def test_two_deciders_at_once_one_wins(db: Database, session: Session, world: World, case: Case) -> None:
    """Both read the request while pending; the guarded update lets only the first decide."""
    approval = _request(session, world, case, "refund", "300")
    with db.session(write=True) as other:
        theirs = other.get(ApprovalRequest, approval.id)
        assert theirs is not None and theirs.status == "pending"
        other.commit()  # done reading; the object keeps what it read
        service.decide(session, world.subject("sm_a1"), approval, data=ApprovalDecision(decision="approve"))
        session.commit()
        with pytest.raises(Conflict):
            service.decide(
                other,
                world.subject("region_east"),
                theirs,
                data=ApprovalDecision(decision="reject", comment="不"),
            )
        other.rollback()
    assert _count(session, CaseHistory, CaseHistory.kind.in_(["approval_approved", "approval_rejected"])) == 1
    assert session.get(ApprovalRequest, approval.id).decided_by_id == world.users["sm_a1"].id  # type: ignore[union-attr]


def test_another_dealers_user_neither_sees_nor_decides(
    session: Session, world: World, case: Case, client_for
) -> None:
    approval = _request(session, world, case, "refund", "300")
    for outsider in ("sm_b1", "sm_a2"):
        api: TestClient = client_for(outsider)
        assert api.get(f"/api/v1/approvals/{approval.id}").status_code == 404
        answer = api.post(f"/api/v1/approvals/{approval.id}/decision", json={"decision": "approve"})
        assert answer.status_code == 404, answer.text
        assert api.get(f"/api/v1/cases/{case.id}/approvals").status_code == 404
        assert api.get("/api/v1/approvals").json()["items"] == []
    assert session.get(ApprovalRequest, approval.id).status == "pending"  # type: ignore[union-attr]
    assert client_for("region_east").get(f"/api/v1/approvals/{approval.id}").status_code == 200


def test_my_queue_is_paginated(session: Session, world: World, case: Case, client_for) -> None:
    mine = {_request(session, world, case, "refund", str(300 + n)).id for n in range(3)}
    _request(session, world, case, "refund", "50000")  # the regional manager's
    api: TestClient = client_for("sm_a1")
    first = api.get("/api/v1/approvals", params={"status": "pending", "mine": True, "limit": 2}).json()
    rest = api.get(
        "/api/v1/approvals",
        params={"status": "pending", "mine": True, "limit": 2, "cursor": first["next_cursor"]},
    ).json()
    assert rest["next_cursor"] is None
    assert {a["id"] for a in first["items"] + rest["items"]} == mine
    assert {a.id for a in service.pending_for(session, world.subject("sm_a1"))} == mine
    assert len(api.get("/api/v1/approvals").json()["items"]) == 4  # everything the manager may see


def test_my_queue_query_count_is_pinned_and_flat(
    db: Database, session: Session, world: World, case: Case, client_for
) -> None:
    api: TestClient = client_for("sm_a1")
    api.get("/api/v1/me")  # the token's subject is then cached, as between real requests
    counts = []
    for extra in (1, 12):
        for n in range(extra):
            _request(session, world, case, "refund", str(300 + n))
        with counted(db) as statements:
            answer = api.get("/api/v1/approvals", params={"status": "pending", "mine": True})
        assert answer.status_code == 200, answer.text
        counts.append(len(statements))
    assert_within_budget("cases", "GET /api/v1/approvals", counts)


def test_the_matrix_is_data_hq_edits_with_an_audit(
    session: Session, world: World, case: Case, client_for
) -> None:
    cells = client_for("sm_a1").get("/api/v1/approval-authority").json()
    assert {"kind": "return", "role": "store_manager", "max_amount": "300000.00"} in [
        {k: c[k] for k in ("kind", "role", "max_amount")} for c in cells
    ]
    assert {"kind": "refund", "role": "executive", "max_amount": None} in [
        {k: c[k] for k in ("kind", "role", "max_amount")} for c in cells
    ]
    path = "/api/v1/approval-authority/return/store_manager"
    assert client_for("sm_a1").put(path, json={"max_amount": "900000"}).status_code == 403
    assert client_for("sm_a1").delete(path).status_code == 403
    hq: TestClient = client_for("hq_ops")
    answer = hq.put(path, json={"max_amount": None})
    assert (answer.status_code, answer.json()["max_amount"]) == (200, None)
    assert hq.delete(path).status_code == 204
    assert hq.delete(path).status_code == 204  # already gone: nothing changes
    session.expire_all()
    assert session.get(AuthorityLimit, ("return", "store_manager")) is None
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "approval_authority")
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("approval_authority.update", world.users["hq_ops"].id),
        ("approval_authority.remove", world.users["hq_ops"].id),
    ]
    assert entries[0].changes == {"store_manager.max_amount_cents": [300_000_00, None]}
    assert entries[1].changes == {"store_manager.allowed": [True, False]}
    approval = _request(session, world, case, "return", "1000")
    assert _name(world, approval.approver_id) == "region_east"  # the store manager may no longer
    granted = hq.put("/api/v1/approval-authority/return/service_advisor", json={"max_amount": "2000"})
    assert (granted.status_code, granted.json()["max_amount"]) == (200, "2000.00")
    assert _name(world, _request(session, world, case, "return", "1000", by="sc_a1").approver_id) == "sa_a1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "loan", "amount": "100", "reason": "r"}, "kind"),
        ({"kind": "refund", "amount": "-5", "reason": "r"}, "amount"),
        ({"kind": "refund", "amount": "0", "reason": "r"}, "amount"),
        ({"kind": "refund", "amount": "1.234", "reason": "r"}, "amount"),
        ({"kind": "refund", "amount": "abc", "reason": "r"}, "amount"),
        ({"kind": "refund", "amount": "100"}, "reason"),
        ({"kind": "refund", "amount": "100", "reason": "   "}, "reason"),
    ],
)
def test_bad_requests_are_422_and_store_nothing(
    session: Session, world: World, case: Case, client_for, body: dict[str, str], field: str
) -> None:
    answer = client_for("sa_a1").post(f"/api/v1/cases/{case.id}/approvals", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert _count(session, ApprovalRequest) == 0
    assert _count(session, CaseHistory, CaseHistory.kind == "approval_requested") == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/approval-authority/loan/store_manager", {"max_amount": "1"}, "kind"),
        ("/api/v1/approval-authority/refund/janitor", {"max_amount": "1"}, "role"),
        ("/api/v1/approval-authority/refund/store_manager", {"max_amount": "0"}, "max_amount"),
        ("/api/v1/approval-authority/refund/store_manager", {}, "max_amount"),
    ],
)
def test_bad_matrix_edits_are_422_and_change_nothing(
    session: Session, client_for, path: str, body: dict[str, str], field: str
) -> None:
    answer = client_for("hq_ops").put(path, json=body)
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert session.get(AuthorityLimit, ("refund", "store_manager")).max_amount_cents == 20_000_00  # type: ignore[union-attr]
    assert _count(session, AuditEntry, AuditEntry.entity_type == "approval_authority") == 0
