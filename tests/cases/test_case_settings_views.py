"""Console pages for the case desk's SLA policies, its authority matrix, and the SLA report."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.cases import service
from drivetrain.cases.approvals import service as approvals
from drivetrain.cases.approvals.schemas import ApprovalCreate
from drivetrain.cases.models import AuthorityLimit, Case, SlaPolicy
from drivetrain.cases.schemas import CaseCreate, CaseNote
from drivetrain.kit import clock
from drivetrain.kit.i18n import LANG_COOKIE, catalog
from tests.world import World

FORM = {"first_response_seconds": "600", "resolution_seconds": "7200", "escalation_seconds": "30"}


def test_hq_sets_a_policy_down_to_seconds_and_it_is_audited(console, session: Session) -> None:
    hq = console("hq_ops")
    answer = hq.post("/cases/settings/high", FORM | {"business_hours": "on"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/cases/settings?saved=high")
    session.expire_all()
    policy = session.get(SlaPolicy, "high")
    assert policy is not None
    assert (policy.first_response_seconds, policy.escalation_seconds, policy.business_hours) == (
        600,
        30,
        True,
    )
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "sla_policy.update")) is not None
    page = hq.get("/cases/settings?saved=high").text
    assert 'value="30"' in page and 'role="status"' in page


def test_a_bad_budget_saves_nothing_and_is_shown_beside_its_input(console, session: Session) -> None:
    before = session.get(SlaPolicy, "normal")
    assert before is not None
    kept = before.escalation_seconds
    answer = console("hq_ops").post("/cases/settings/normal", FORM | {"escalation_seconds": "0"})
    assert answer.status_code == 422
    assert re.search(r'name="escalation_seconds" value="0"[^>]*aria-invalid="true"', answer.text)
    session.expire_all()
    assert session.get(SlaPolicy, "normal").escalation_seconds == kept  # type: ignore[union-attr]


def test_a_store_manager_reads_the_settings_but_may_not_change_them(console) -> None:
    manager = console("sm_a1")
    page = manager.get("/cases/settings").text
    assert "<fieldset disabled" in page and "¥300,000" in page  # the store manager's return limit
    assert manager.post("/cases/settings/high", FORM).status_code == 403


def test_the_report_counts_the_subjects_cases_by_dealer_and_by_holder(
    console, session: Session, world: World
) -> None:
    for dealer in ("A1", "A1", "B1"):
        data = CaseCreate(description="发动机异响，很不满意", channel="hotline", dealer_code=dealer)  # type: ignore[arg-type]
        case = service.open_case(session, world.subject("hq_ops"), data=data)
        note = CaseNote(note="已联系车主", contacted_customer=True)
        service.add_note(session, world.subject("hq_ops"), case, data=note)
    session.commit()
    by_dealer = console("hq_ops").get("/cases/report").text
    counts = dict(
        re.findall(r'<span class="small muted">(\w+)</span></td>\s*<td class="amount">(\d+)</td>', by_dealer)
    )
    assert counts == {"A1": "2", "B1": "1"}
    mine = console("sm_a1").get("/cases/report").text
    assert ">A1<" in mine and ">B1<" not in mine
    by_holder = console("hq_ops").get("/cases/report?group_by=owner").text
    assert "sa_a1" in by_holder
    assert console("hq_ops").get("/cases/report?since=2026-13-01").status_code == 422


@pytest.mark.usefixtures("frozen_clock")
def test_the_report_gives_each_time_in_the_unit_that_reads(console, session: Session, world: World) -> None:
    """Half an hour in minutes, a day and a half in hours, three days in days (not 4320 minutes)."""
    waits = {"A1": timedelta(minutes=30), "A2": timedelta(hours=36), "B1": timedelta(days=3)}
    for dealer, wait in waits.items():
        data = CaseCreate(description="发动机异响，很不满意", channel="hotline", dealer_code=dealer)  # type: ignore[arg-type]
        case = service.open_case(session, world.subject("hq_ops"), data=data)
        clock.advance(wait)
        service.add_note(
            session, world.subject("hq_ops"), case, data=CaseNote(note="已联系车主", contacted_customer=True)
        )
        clock.advance(-wait)
    session.commit()
    page = console("hq_ops").get(f"/cases/report?until={clock.now().date() + timedelta(days=3)}").text
    code, count = r'<span class="small muted">(\w+)</span></td>', r'\s*<td class="amount">\d+</td>'
    cells = code + count + r'\s*<td class="amount">([^<]+)'
    first_response = dict(re.findall(cells, page))
    assert first_response == {"A1": "30 分钟", "A2": "36.0 小时", "B1": "3.0 天"}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_text_on_the_settings_and_report_pages_is_translated(console, locale: str) -> None:
    hq = console("hq_ops")
    hq.client.cookies.set(LANG_COOKIE, locale)
    for path in ("/cases/settings", "/cases/report", "/cases/authority"):
        text = hq.get(path).text
        pattern = r"\b(?:cases|approvals?|approval_kind|priority|role)\.[a-z_.0-9-]+"
        assert not re.findall(pattern, text), (locale, path)


# ---------------------------------------------------------------- the authority matrix page


class _Fields(HTMLParser):
    """What a browser posts from a page's form as it stands: inputs with their values, ticked boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        name = found.get("name")
        if tag != "input" or not name or name == "csrf_token":
            return
        if found.get("type") == "checkbox" and "checked" not in found:
            return
        self.fields[name] = found.get("value") or ""


def _form_of(page: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(page)
    return parser.fields


def _limits(session: Session) -> dict[tuple[str, str], int | None]:
    session.expire_all()
    return {(c.kind, c.role): c.max_amount_cents for c in session.scalars(select(AuthorityLimit))}


def _authority_audits(session: Session) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.entity_type == "approval_authority")
    return list(session.scalars(stmt.order_by(AuditEntry.at, AuditEntry.id)))


def _ask(session: Session, world: World, kind: str, amount: str, *, by: str) -> str | None:
    """Who a new request on a product case at A1 goes to (ladder: sa_a1, sm_a1, region_east, hq_ops, ceo)."""
    data = CaseCreate(description="保养后发动机有异响，很不满意", channel="hotline", dealer_code="A1")  # type: ignore[arg-type]
    case: Case = service.open_case(session, world.subject("hq_ops"), data=data)
    ask = ApprovalCreate(kind=kind, amount=Decimal(amount), reason="客户要求补偿")  # type: ignore[arg-type]
    approval = approvals.request_approval(session, world.subject(by), case, data=ask)
    session.commit()
    return next(name for name, user in world.users.items() if user.id == approval.approver_id)


def test_hq_edits_the_matrix_and_new_requests_route_by_it(
    console, session: Session, world: World, client_for
) -> None:
    hq = console("hq_ops")
    page = hq.get("/cases/authority")
    assert page.status_code == 200 and 'href="/cases/authority" aria-current="page"' in page.text
    form = _form_of(page.text)
    assert (form["refund.store_manager"], form["refund.executive.unlimited"]) == ("20000", "on")
    assert form["return.service_advisor"] == ""  # may not approve a return
    changed = form | {
        "refund.store_manager": "1,000",  # lowered
        "return.service_advisor": "2000.50",  # granted
        "discount.sales_consultant": "",  # taken away
        "goodwill.hq_ops.unlimited": "on",  # no ceiling
    }
    del changed["refund.executive.unlimited"]
    changed["refund.executive"] = "2000000"  # a ceiling where there was none
    answer = hq.post("/cases/authority", changed)
    assert (answer.status_code, answer.headers["location"]) == (303, "/cases/authority?saved=1")
    limits = _limits(session)
    assert limits[("refund", "store_manager")] == 1_000_00
    assert limits[("return", "service_advisor")] == 2_000_50
    assert ("discount", "sales_consultant") not in limits
    assert limits[("goodwill", "hq_ops")] is None
    assert limits[("refund", "executive")] == 2_000_000_00
    assert limits[("return", "store_manager")] == 300_000_00  # untouched
    audits = _authority_audits(session)
    assert sorted((e.action, e.entity_id) for e in audits) == [
        ("approval_authority.remove", "discount"),
        ("approval_authority.update", "goodwill"),
        ("approval_authority.update", "refund"),
        ("approval_authority.update", "refund"),
        ("approval_authority.update", "return"),
    ]
    assert {e.actor_id for e in audits} == {world.users["hq_ops"].id}
    saved = hq.get("/cases/authority?saved=1").text
    assert 'role="status"' in saved and _form_of(saved)["return.service_advisor"] == "2000.50"
    cells = client_for("sm_a1").get("/api/v1/approval-authority").json()
    read_back = {(c["kind"], c["role"]): c["max_amount"] for c in cells}
    assert read_back[("refund", "store_manager")] == "1000.00"
    assert ("discount", "sales_consultant") not in read_back
    assert _ask(session, world, "refund", "5000", by="sa_a1") == "region_east"  # above the store manager now
    assert _ask(session, world, "return", "1000", by="sc_a1") == "sa_a1"  # the advisor may approve returns


def test_saving_again_writes_nothing_and_keeps_a_colleagues_change(
    console, session: Session, client_for
) -> None:
    hq = console("hq_ops")
    form = _form_of(hq.get("/cases/authority").text)
    assert hq.post("/cases/authority", form).status_code == 303
    assert _authority_audits(session) == []
    put = client_for("hq_admin").put(
        "/api/v1/approval-authority/refund/store_manager", json={"max_amount": "15000"}
    )
    assert put.status_code == 200
    answer = hq.post("/cases/authority", form | {"goodwill.store_manager": "12000"})  # a page read before
    assert answer.status_code == 303
    limits = _limits(session)
    assert limits[("refund", "store_manager")] == 15_000_00  # the colleague's change stays
    assert limits[("goodwill", "store_manager")] == 12_000_00


def test_a_role_given_authority_through_the_api_gets_its_own_column(
    console, session: Session, client_for
) -> None:
    """The page always shows the ladder's roles; a limit set for another role (here the group admin)
    is shown beside them and edited like the others, not left invisible on the page."""
    hq = console("hq_ops")
    assert 'name="refund.group_admin"' not in hq.get("/cases/authority").text
    put = client_for("hq_admin").put(
        "/api/v1/approval-authority/refund/group_admin", json={"max_amount": "8000"}
    )
    assert put.status_code == 200, put.text
    form = _form_of(hq.get("/cases/authority").text)
    assert form["refund.group_admin"] == "8000" and form["goodwill.group_admin"] == ""
    assert hq.post("/cases/authority", form | {"refund.group_admin": "8765"}).status_code == 303
    assert _limits(session)[("refund", "group_admin")] == 8_765_00
    assert "¥8,765" in hq.get("/cases/settings").text


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-500", "cases.authority.error.positive"),
        ("0", "cases.authority.error.positive"),
        ("abc", "cases.authority.error.number"),
        ("1.234", "cases.authority.error.decimals"),
        ("12345678901", "cases.authority.error.too_large"),
    ],
)
def test_a_bad_amount_saves_nothing_and_is_shown_beside_its_input(
    console, session: Session, amount: str, message: str
) -> None:
    hq = console("hq_ops")
    hq.client.cookies.set(LANG_COOKIE, "en")
    before = _limits(session)
    form = _form_of(hq.get("/cases/authority").text)
    bad = form | {"refund.store_manager": "30000", "goodwill.regional_manager": amount}
    answer = hq.post("/cases/authority", bad)
    assert answer.status_code == 422
    field = re.search(r'<input[^>]*name="goodwill\.regional_manager"[^>]*>', answer.text)
    assert field is not None and f'value="{amount}"' in field[0] and 'aria-invalid="true"' in field[0]
    error = re.search(r'id="goodwill\.regional_manager\.error" role="alert">([^<]*)<', answer.text)
    assert error is not None and error[1] == catalog("en")[message].replace('"', "&#34;")
    assert answer.text.count('aria-invalid="true"') == 1
    assert _form_of(answer.text)["refund.store_manager"] == "30000"  # what was typed stays
    assert _limits(session) == before
    assert _authority_audits(session) == []


def test_a_store_manager_reads_the_matrix_but_may_not_change_it(console, session: Session, app) -> None:
    manager = console("sm_a1")
    page = manager.get("/cases/authority")
    assert page.status_code == 200 and "<fieldset disabled" in page.text
    assert 'class="primary"' not in page.text  # no save button
    before = _limits(session)
    form = _form_of(page.text) | {"return.store_manager": "900000"}
    assert manager.post("/cases/authority", form).status_code == 403
    assert console("hq_ops").post("/cases/authority", form, csrf=False).status_code == 403
    stranger = TestClient(app.app, follow_redirects=False)
    assert stranger.get("/cases/authority").status_code == 303
    assert stranger.post("/cases/authority", data=form).headers["location"].startswith("/login")
    assert _limits(session) == before
    assert _authority_audits(session) == []


def test_the_case_tabs_and_the_settings_page_link_to_the_matrix(console) -> None:
    editing = console("hq_ops").get("/cases/settings").text
    assert editing.count('href="/cases/authority"') == 2  # the tab, and "edit" under the read-only matrix
    reading = console("sm_a1").get("/cases/settings").text
    assert reading.count('href="/cases/authority"') == 1  # the tab only
