"""Console pages for the case desk's SLA policies, its authority matrix, and the SLA report."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.cases import service
from drivetrain.cases.models import SlaPolicy
from drivetrain.cases.schemas import CaseCreate, CaseNote
from drivetrain.web.templating import LANG_COOKIE
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


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_text_on_the_settings_and_report_pages_is_translated(console, locale: str) -> None:
    hq = console("hq_ops")
    hq.client.cookies.set(LANG_COOKIE, locale)
    for path in ("/cases/settings", "/cases/report"):
        text = hq.get(path).text
        pattern = r"\b(?:cases|approvals?|approval_kind|priority|role)\.[a-z_.0-9-]+"
        assert not re.findall(pattern, text), (locale, path)
