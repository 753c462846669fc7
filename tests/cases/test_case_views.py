"""Console pages for cases: the live list per scope, hotline intake, a case's page and its actions."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.cases import service
from drivetrain.cases.approvals import service as approvals
from drivetrain.cases.models import Case, CaseHistory
from drivetrain.cases.schemas import CaseCreate
from drivetrain.kit.i18n import LANG_COOKIE
from tests.world import World

NOISE = "保养后发动机有异响，很不满意"


def _open(session: Session, world: World, dealer_code: str = "A1", text: str = NOISE) -> Case:
    data = CaseCreate(description=text, channel="hotline", dealer_code=dealer_code)  # type: ignore[arg-type]
    case = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return case


def _cases(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def test_the_holder_sees_their_case_and_another_dealer_does_not(
    console, session: Session, world: World
) -> None:
    a1 = _open(session, world)
    b1 = _open(session, world, dealer_code="B1")
    mine = console("sa_a1").get("/cases").text
    assert f"/cases/{a1.id}" in mine and f"/cases/{b1.id}" not in mine
    manager = console("sm_a1")
    assert f"/cases/{a1.id}" not in manager.get("/cases").text  # not held by the manager yet
    assert f"/cases/{a1.id}" in manager.get("/cases?view=active").text
    assert manager.get(f"/cases/{b1.id}").status_code == 404
    fragment = manager.get("/cases?view=active", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and f'data-row="{a1.id}"' in fragment


def test_the_holder_is_named_as_colleagues_know_them(console, session: Session, world: World) -> None:
    """The list and the case page name the holder by their display name, the username beside it; the
    ladder's own history rows speak the console's language, not the API's notes."""
    world.users["sa_a1"].display_name = "葛小燕"
    session.commit()
    case = _open(session, world)
    manager = console("sm_a1")
    row = manager.get("/cases?view=active").text.split(f'data-row="{case.id}"')[1].split("</tr>")[0]
    assert "葛小燕" in row and "sa_a1" in row
    page = manager.get(f"/cases/{case.id}").text
    owner = page.split('class="owner">')[1].split("</dd>")[0]
    assert "葛小燕" in owner and "sa_a1" in owner
    history = page[page.index('id="history"') :]
    assert "热线 · " in history and "hotline: assignee" not in history
    assert '→ <span title="sa_a1">葛小燕</span>' in history
    asked = console("sa_a1").post(
        f"/cases/{case.id}/approvals", {"kind": "refund", "amount": "800", "reason": "多收工时费"}
    )
    assert asked.status_code == 303
    world.users["sm_a1"].display_name = "冀凯"
    session.commit()
    card = manager.get(f"/cases/{case.id}").text.split('id="approvals"')[1].split("</section>")[0]
    assert "葛小燕" in card and "冀凯" in card


def test_the_page_follows_the_users_events(console, session: Session, world: World) -> None:
    case = _open(session, world)
    page = console("sa_a1").get(f"/cases/{case.id}").text
    assert 'data-listen="case.assigned case.escalated' in page
    assert re.search(r'data-events="/api/v1/events\?after=\d+"', page)


def test_a_hotline_agent_files_a_case_and_lands_on_it(console, session: Session) -> None:
    agent = console("hq_ops")
    answer = agent.post(
        "/cases/new",
        {"channel": "hotline", "dealer_code": "A1", "description": "刹車失靈，差點撞車", "type": ""},
    )
    assert answer.status_code == 303
    case = session.get(Case, answer.headers["location"].rsplit("/", 1)[1])
    assert case is not None
    assert (case.description, case.priority, case.channel) == ("刹车失灵,差点撞车", "critical", "hotline")
    page = agent.get(answer.headers["location"]).text
    assert "刹车失灵" in page and "紧急" in page


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"channel": "hotline", "dealer_code": "A1", "description": " "}, "description"),
        ({"channel": "fax", "dealer_code": "A1", "description": NOISE}, "channel"),
        (
            {"channel": "hotline", "dealer_code": "A1", "description": NOISE, "vin": "LVSHCAE49RC000001"},
            "vin",
        ),
        ({"channel": "hotline", "dealer_code": "ZZ9", "description": NOISE}, "dealer_code"),
    ],
)
def test_bad_intake_is_shown_on_the_form_and_nothing_is_stored(
    console, session: Session, form: dict[str, str], field: str
) -> None:
    before = _cases(session)
    answer = console("hq_ops").post("/cases/new", form)
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text and form["description"].strip() in answer.text
    session.expire_all()
    assert _cases(session) == before


def test_waiting_resuming_and_resolving_from_the_page(console, session: Session, world: World) -> None:
    case = _open(session, world)
    advisor = console("sa_a1")
    assert advisor.post(f"/cases/{case.id}/status", {"status": "waiting_customer"}).status_code == 303
    assert advisor.post(f"/cases/{case.id}/status", {"status": "open"}).status_code == 303
    refused = advisor.post(f"/cases/{case.id}/status", {"status": "resolved", "note": ""})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    done = advisor.post(f"/cases/{case.id}/status", {"status": "resolved", "note": "更换刹车片，客户满意"})
    assert done.status_code == 303
    session.expire_all()
    resolved = session.get(Case, case.id)
    assert resolved is not None and (resolved.status, resolved.resolution) == (
        "resolved",
        "更换刹车片，客户满意",
    )
    kinds = session.scalars(select(CaseHistory.kind).where(CaseHistory.case_id == case.id)).all()
    assert [k for k in kinds if k in ("paused", "resumed", "resolved")] == ["paused", "resumed", "resolved"]


def test_a_note_that_reached_the_customer_is_the_first_response(
    console, session: Session, world: World
) -> None:
    case = _open(session, world)
    advisor = console("sa_a1")
    assert advisor.post(f"/cases/{case.id}/notes", {"note": "查看了维修记录"}).status_code == 303
    session.expire_all()
    assert session.get(Case, case.id).first_responded_at is None  # type: ignore[union-attr]
    answer = advisor.post(f"/cases/{case.id}/notes", {"note": "已电话联系车主", "contacted_customer": "yes"})
    assert answer.status_code == 303
    session.expire_all()
    assert session.get(Case, case.id).first_responded_at is not None  # type: ignore[union-attr]
    assert "已电话联系车主" in advisor.get(f"/cases/{case.id}").text


def test_posts_need_the_csrf_token_and_work_permission(console, session: Session, world: World) -> None:
    case = _open(session, world)
    assert console("sa_a1").post(f"/cases/{case.id}/notes", {"note": "x"}, csrf=False).status_code == 403
    assert console("quality").post(f"/cases/{case.id}/notes", {"note": "x"}).status_code == 403
    assert console("quality").get("/cases/new").status_code == 403


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_text_on_the_case_pages_is_translated(
    console, session: Session, world: World, locale: str
) -> None:
    case = _open(session, world)
    hq = console("hq_ops")
    hq.client.cookies.set(LANG_COOKIE, locale)
    hq.post(f"/cases/{case.id}/notes", {"note": "已联系", "contacted_customer": "yes"})
    for path in ("/cases", "/cases?view=active", "/cases/new", f"/cases/{case.id}"):
        text = hq.get(path).text
        pattern = r"\b(?:cases|case_\w+|category|priority|rung|severity|sentiment|nav)\.[a-z_.0-9-]+"
        assert not re.findall(pattern, text), (locale, path)


def test_an_approval_is_asked_for_and_granted_on_the_case_page(
    console, session: Session, world: World
) -> None:
    case = _open(session, world)
    advisor, manager = console("sa_a1"), console("sm_a1")
    bad = advisor.post(
        f"/cases/{case.id}/approvals", {"kind": "refund", "amount": "12.345", "reason": "多收费"}
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    asked = advisor.post(
        f"/cases/{case.id}/approvals", {"kind": "refund", "amount": "800", "reason": "多收工时费"}
    )
    assert asked.status_code == 303
    [approval] = approvals.approval_reads(session, case.id)
    assert (approval.approver, approval.status.value) == ("sm_a1", "pending")
    assert "/decision" not in advisor.get(f"/cases/{case.id}").text  # only the holder gets the form
    page = manager.get(f"/cases/{case.id}").text
    assert f'data-approval="{approval.id}"' in page and "/decision" in page
    path = f"/cases/{case.id}/approvals/{approval.id}/decision"
    refused = manager.post(path, {"decision": "reject", "comment": ""})
    assert refused.status_code == 422
    assert manager.post(path, {"decision": "approve", "comment": "同意退还"}).status_code == 303
    session.expire_all()
    [decided] = approvals.approval_reads(session, case.id)
    assert (decided.status.value, decided.decided_by, decided.comment) == ("approved", "sm_a1", "同意退还")
    assert "approval-status-approved" in advisor.get(f"/cases/{case.id}").text
