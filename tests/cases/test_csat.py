"""The satisfaction survey when a case is resolved: one message through the outbox with a working link,
the owner's page (form token, rate limit, once only, expiry), and the answer on the case."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.auth.subject import SYSTEM
from drivetrain.cases import service
from drivetrain.cases.csat import public
from drivetrain.cases.csat import service as csat
from drivetrain.cases.csat.repository import SurveyRepository
from drivetrain.cases.csat.schemas import SurveyStatus
from drivetrain.cases.models import Case, CaseHistory, CaseSurvey
from drivetrain.cases.schemas import CaseCreate, CaseStatusChange
from drivetrain.config import get_settings
from drivetrain.customers import service as customers
from drivetrain.customers.models import ConsentChannel, ConsentPurpose, ConsentStatus, TimelineEvent
from drivetrain.customers.schemas import ConsentIn, CustomerCreate
from drivetrain.db import Database
from drivetrain.integrations.sms.client import FakeDysms, deliver_sms
from drivetrain.integrations.sms.client import use_client as use_sms
from drivetrain.integrations.wecom.customer import FakeWeComCustomers, deliver_customer_message
from drivetrain.integrations.wecom.customer import use_client as use_wecom_customers
from drivetrain.jobs import outbox
from drivetrain.jobs.models import Event, OutboxMessage
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput, NotFound
from drivetrain.kit.ratelimit import SlidingWindowLimiter
from tests.world import World

MONDAY_0900_SHANGHAI = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NOISE = "保养后发动机有异响，很不满意"


@pytest.fixture(autouse=True)
def monday(db: Database) -> Iterator[datetime]:
    clock.freeze(MONDAY_0900_SHANGHAI)
    yield MONDAY_0900_SHANGHAI
    clock.unfreeze()


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> SlidingWindowLimiter:
    """Every test client comes from the same address, so each test starts with an empty window."""
    limiter = SlidingWindowLimiter(public.answers.limit, public.answers.window)
    monkeypatch.setattr(public, "answers", limiter)
    return limiter


def _open(session: Session, world: World, **extra: Any) -> Case:
    data = CaseCreate(description=NOISE, channel="hotline", dealer_code="A1", **extra)
    case = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return case


def _case(session: Session, case_id: str) -> Case:
    session.expire_all()
    found = session.get(Case, case_id)
    assert found is not None
    return found


def _set_status(session: Session, world: World, case_id: str, status: str) -> None:
    """Change status as staff would; on resolving, send the survey as ``change_status`` does once wired
    (then this second call must change nothing, which the counts below check too)."""
    case = _case(session, case_id)
    note = "已更换刹车片，车主确认" if status == "resolved" else None
    service.change_status(
        session, world.subject("sa_a1"), case, data=CaseStatusChange(status=status, note=note)
    )  # type: ignore[arg-type]
    if status == "resolved":
        csat.send_survey(session, case)
    session.commit()


def _messages(session: Session, topic: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)))


def _surveys(session: Session, case_id: str) -> int:
    return (
        session.scalar(select(func.count()).select_from(CaseSurvey).where(CaseSurvey.case_id == case_id)) or 0
    )


def _resolved_with_sms(session: Session, world: World) -> tuple[Case, str]:
    case = _open(session, world, phone="13800000001")
    _set_status(session, world, case.id, "resolved")
    [message] = _messages(session, csat.SMS_TOPIC)
    return case, message.payload["params"]["token"]


def _form_token(page: Any) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _post(client: TestClient, token: str, **fields: str) -> Any:
    page = client.get(f"/survey/{token}")
    assert page.status_code == 200, page.text
    return client.post(f"/survey/{token}", data={"form_token": _form_token(page)} | fields)


# ---------------------------------------------------------------- sending


def test_resolving_queues_one_sms_with_a_working_link_and_never_a_second(
    session: Session, world: World, app: TestClient, db: Database
) -> None:
    case, token = _resolved_with_sms(session, world)
    [message] = _messages(session, csat.SMS_TOPIC)
    payload = message.payload
    assert payload["to"] == world.phones["cust_a1"] and payload["out_id"] == case.id
    assert payload["template"] == get_settings().sms_csat_template
    assert payload["link"] == f"{get_settings().public_base_url}/survey/{token}"
    assert len(token) <= 35  # an SMS template variable
    survey = SurveyRepository(session).of_case(case.id)
    assert survey is not None and survey.channel == "sms" and survey.token_hash != token
    assert survey.expires_at == MONDAY_0900_SHANGHAI + timedelta(days=14)
    page = app.get(payload["link"].removeprefix(get_settings().public_base_url))
    assert page.status_code == 200 and "服务满意度评价" in page.text and case.title in page.text
    assert world.dealers["A1"].name in page.text and "/logout" not in page.text
    assert "<strong>满意度回访</strong>" in page.text  # the owner-facing header, not the test-drive one

    _set_status(session, world, case.id, "open")
    _set_status(session, world, case.id, "resolved")
    assert len(_messages(session, csat.SMS_TOPIC)) == 1 and _surveys(session, case.id) == 1
    kinds = session.scalars(select(CaseHistory.kind).where(CaseHistory.case_id == case.id)).all()
    assert kinds.count("csat_sent") == 1

    gateway = FakeDysms(templates={get_settings().sms_csat_template})
    use_sms(gateway)
    try:
        outbox.deliver_due(db, {csat.SMS_TOPIC: deliver_sms}, worker_id="w1")
    finally:
        use_sms(FakeDysms())
    [request] = gateway.sent
    assert request["Action"] == "SendSms" and request["PhoneNumbers"] == "13800000001"
    assert json.loads(request["TemplateParam"]) == {"token": token}
    session.expire_all()
    assert _messages(session, csat.SMS_TOPIC)[0].status == "sent"


def test_no_mobile_and_no_wecom_means_no_survey(session: Session, world: World) -> None:
    case = _open(session, world)
    _set_status(session, world, case.id, "resolved")
    assert _surveys(session, case.id) == 0 and _messages(session, csat.SMS_TOPIC) == []
    assert csat.survey_read(session, case.id) is None


def test_a_landline_owner_on_wecom_is_asked_through_their_consultant(
    session: Session, world: World, db: Database
) -> None:
    customers.create_customer(
        session,
        SYSTEM,
        data=CustomerCreate(
            name="赵敏",
            phone="0571-88886666",
            dealer_code="A1",
            consultant="sc_a1",
            wecom_external_userid="wmZM01",
        ),
    )
    session.commit()
    case = _open(session, world, phone="0571-88886666")
    assert case.customer_id is not None
    _set_status(session, world, case.id, "resolved")
    assert _messages(session, csat.SMS_TOPIC) == []
    [message] = _messages(session, csat.WECOM_CUSTOMER_TOPIC)
    assert message.payload["sender"] == "sc_a1" and message.payload["to"] == ["wmZM01"]
    assert f"{get_settings().public_base_url}/survey/" in message.payload["text"]
    wecom = FakeWeComCustomers(known_contacts={"wmZM01"})
    use_wecom_customers(wecom)
    try:
        outbox.deliver_due(db, {csat.WECOM_CUSTOMER_TOPIC: deliver_customer_message}, worker_id="w1")
    finally:
        use_wecom_customers(FakeWeComCustomers())
    [body] = wecom.sent
    assert body["chat_type"] == "single" and body["external_userid"] == ["wmZM01"]
    assert csat.survey_read(session, case.id).channel == "wecom"  # type: ignore[union-attr]


def test_an_owner_who_declined_surveys_is_not_asked(session: Session, world: World) -> None:
    customer = customers.CustomerRepository(session).get_readable(SYSTEM, world.customers["cust_a1"])
    customers.record_consent(
        session,
        SYSTEM,
        customer,
        ConsentIn(
            purpose=ConsentPurpose.SURVEY,
            channel=ConsentChannel.ANY,
            status=ConsentStatus.WITHDRAWN,
            source="hotline",
        ),
    )
    session.commit()
    case = _open(session, world, phone="13800000001")
    _set_status(session, world, case.id, "resolved")
    assert _surveys(session, case.id) == 0


def test_supplier_cases_get_no_survey(session: Session, world: World) -> None:
    case = _open(session, world, phone="13800000001", type="supplier")
    _set_status(session, world, case.id, "resolved")
    assert _surveys(session, case.id) == 0


# ---------------------------------------------------------------- answering


def test_the_owner_answers_on_the_public_page(session: Session, world: World, app: TestClient) -> None:
    case, token = _resolved_with_sms(session, world)
    answer = _post(app, token, score="2", comment="  处理太慢，等了三天  ")
    assert answer.status_code == 200, answer.text
    assert "感谢您的评价" in answer.text and "您的评分：2 分" in answer.text
    session.expire_all()
    read = csat.survey_read(session, case.id)
    assert read is not None
    assert (read.status, read.score, read.comment) == (SurveyStatus.ANSWERED, 2, "处理太慢，等了三天")
    assert read.answered_at == MONDAY_0900_SHANGHAI
    [history] = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == case.id, CaseHistory.kind == "csat")
    ).all()
    assert history.note == "CSAT 2/5" and history.detail == {"score": 2, "comment": "处理太慢，等了三天"}
    timeline = session.scalar(
        select(TimelineEvent).where(
            TimelineEvent.customer_id == world.customers["cust_a1"], TimelineEvent.kind == "case.csat"
        )
    )
    assert timeline is not None and timeline.detail["score"] == 2
    event = session.scalar(select(Event).where(Event.type == "case.csat"))
    assert event is not None and event.recipient_id == case.owner_id and event.payload["case_id"] == case.id
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "case.csat"))
    assert entry is not None and (entry.entity_id, entry.via, entry.actor_id) == (case.id, "public", None)
    assert entry.changes["score"] == [None, 2]


def test_a_second_answer_is_refused(session: Session, world: World, app: TestClient) -> None:
    case, token = _resolved_with_sms(session, world)
    assert _post(app, token, score="5").status_code == 200
    again = app.get(f"/survey/{token}")
    assert again.status_code == 200 and "您已经评价过" in again.text and 'name="score"' not in again.text
    cookie_token = app.cookies.get(public.FORM_COOKIE) or "t"
    second = app.post(f"/survey/{token}", data={"form_token": cookie_token, "score": "1"})
    assert second.status_code == 409 and "您已经评价过" in second.text
    with pytest.raises(Conflict):
        csat.answer(session, token=token, score=1, comment=None)
    session.expire_all()
    assert csat.survey_read(session, case.id).score == 5  # type: ignore[union-attr]
    survey = SurveyRepository(session).of_case(case.id)
    assert survey is not None
    assert not SurveyRepository(session).mark_answered(survey.id, score=1, comment=None, at=clock.now())


def test_an_expired_link_is_refused_and_says_so(session: Session, world: World, app: TestClient) -> None:
    case, token = _resolved_with_sms(session, world)
    page = app.get(f"/survey/{token}")
    form_token = _form_token(page)
    clock.advance(csat.SURVEY_VALID)
    assert csat.survey_read(session, case.id).status == SurveyStatus.EXPIRED  # type: ignore[union-attr]
    shown = app.get(f"/survey/{token}")
    assert shown.status_code == 410 and "已过期" in shown.text
    posted = app.post(f"/survey/{token}", data={"form_token": form_token, "score": "4"})
    assert posted.status_code == 410 and "已过期" in posted.text
    with pytest.raises(csat.SurveyExpired) as refused:
        csat.answer(session, token=token, score=4, comment=None)
    assert refused.value.status == 410 and "expired" in refused.value.detail
    session.expire_all()
    assert csat.survey_read(session, case.id).score is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"score": "6"}, "score", "请选择 1 到 5 分"),
        ({"score": ""}, "score", "请选择 1 到 5 分"),
        ({"score": "五"}, "score", "请选择 1 到 5 分"),
        ({"score": "4", "comment": "长" * 501}, "comment", "不超过 500 字"),
    ],
)
def test_a_bad_answer_is_shown_at_its_field_and_nothing_is_stored(
    session: Session, world: World, app: TestClient, fields: dict[str, str], field: str, message: str
) -> None:
    case, token = _resolved_with_sms(session, world)
    answer = _post(app, token, **fields)
    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text and message in answer.text
    assert fields.get("comment", "") in answer.text  # what was typed is kept
    session.expire_all()
    assert csat.survey_read(session, case.id).status == SurveyStatus.SENT  # type: ignore[union-attr]


@pytest.mark.parametrize(("score", "field"), [(0, "score"), (6, "score")])
def test_the_service_refuses_scores_outside_one_to_five(
    session: Session, world: World, score: int, field: str
) -> None:
    _, token = _resolved_with_sms(session, world)
    with pytest.raises(InvalidInput) as refused:
        csat.answer(session, token=token, score=score, comment=None)
    assert refused.value.field == field


def test_the_form_token_guards_the_answer(session: Session, world: World, app: TestClient) -> None:
    case, token = _resolved_with_sms(session, world)
    assert app.post(f"/survey/{token}", data={"score": "5"}).status_code == 400
    app.get(f"/survey/{token}")
    assert app.post(f"/survey/{token}", data={"score": "5", "form_token": "forged"}).status_code == 403
    session.expire_all()
    assert csat.survey_read(session, case.id).status == SurveyStatus.SENT  # type: ignore[union-attr]


def test_unknown_links_are_404(session: Session, app: TestClient) -> None:
    assert app.get("/survey/no-such-token").status_code == 404
    assert app.get("/survey/" + "x" * 100).status_code == 404
    with pytest.raises(NotFound):
        csat.answer(session, token="no-such-token", score=5, comment=None)


def test_answers_are_rate_limited_per_address(
    session: Session, world: World, app: TestClient, fresh_limiter: SlidingWindowLimiter
) -> None:
    _, token = _resolved_with_sms(session, world)
    page = app.get(f"/survey/{token}")
    for _ in range(fresh_limiter.limit):
        app.post(f"/survey/{token}", data={"form_token": _form_token(page), "score": "9"})
    refused = app.post(
        f"/survey/{token}", data={"form_token": _form_token(page), "score": "3", "comment": "好"}
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "好" in refused.text
    clock.advance(fresh_limiter.window)
    assert (
        app.post(f"/survey/{token}", data={"form_token": _form_token(page), "score": "3"}).status_code == 200
    )


def test_the_page_speaks_english_too(session: Session, world: World, app: TestClient) -> None:
    _, token = _resolved_with_sms(session, world)
    app.cookies.set("dt_lang", "en")
    page = app.get(f"/survey/{token}")
    assert "How did we do?" in page.text and "Very satisfied" in page.text
