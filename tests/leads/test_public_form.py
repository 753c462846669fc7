"""The owner-side test-drive form: capture through the one lead flow, consent, and its own guards
(form token, honeypot, per-IP rate limit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.customers.models import Consent, Customer
from drivetrain.kit import clock
from drivetrain.kit.ratelimit import SlidingWindowLimiter
from drivetrain.leads import public
from drivetrain.leads.models import Lead
from tests.world import World

BINJIANG = "杭州市滨江区江南大道88号"
NEW_PHONE = "13700001111"


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlidingWindowLimiter]:
    """Every test client comes from the same address, so each test starts with an empty window."""
    limiter = SlidingWindowLimiter(public.submissions.limit, public.submissions.window)
    monkeypatch.setattr(public, "submissions", limiter)
    yield limiter


def _open_form(client: TestClient) -> tuple[str, str]:
    """GET the form: its token and the option value of 锐界."""
    page = client.get("/test-drive")
    assert page.status_code == 200, page.text
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    series = re.search(r'<option value="([^"]+)"[^>]*>锐界</option>', page.text)
    assert token and series, page.text
    return token.group(1), series.group(1)


def _submit(client: TestClient, *, token: str | None = None, **changes: Any) -> Any:
    """Open the form (unless a token is given) and post it filled in like an owner would."""
    series = changes.pop("series", None)
    if token is None:
        token, opened = _open_form(client)
        series = series or opened
    fields = {
        "name": "周杰",
        "phone": NEW_PHONE,
        "address": BINJIANG,
        "series": series or "",
        "preferred_time": "周六上午",
        "consent": "yes",
        "website": "",
        "form_token": token,
    }
    fields.update(changes)
    return client.post("/test-drive", data={k: v for k, v in fields.items() if v is not None})


def _count(session: Session, model: type[Any], *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _form_leads(session: Session) -> list[Lead]:
    return list(session.scalars(select(Lead).where(Lead.channel == "test_drive_form")))


def _prospects(session: Session) -> int:
    return _count(session, Customer, Customer.primary_phone == "+86" + NEW_PHONE)


def test_form_is_public_and_sets_its_token_cookie(app: TestClient) -> None:
    page = app.get("/test-drive")
    assert page.status_code == 200
    assert "预约试驾" in page.text and "/logout" not in page.text  # the owner layout, no staff navigation
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{public.FORM_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/test-drive" in cookie
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token and app.cookies[public.FORM_COOKIE] == token.group(1)
    assert 'name="website"' in page.text and 'type="hidden" name="website"' not in page.text


def test_good_submission_is_routed_with_consent_and_thanked(
    app: TestClient, session: Session, world: World
) -> None:
    answer = _submit(app, marketing="yes")
    assert answer.status_code == 200, answer.text
    assert "销售顾问将尽快致电" in answer.text
    assert world.dealers["A1"].name in answer.text
    [lead] = _form_leads(session)
    assert lead.dealer_id == world.dealers["A1"].id and lead.consultant_id is not None
    assert lead.note == "期望试驾时间：周六上午" and lead.source_ref
    consents = session.scalars(select(Consent).where(Consent.customer_id == lead.customer_id)).all()
    assert [(c.purpose, c.status, c.source) for c in consents] == [
        ("marketing", "granted", "lead:test_drive_form")
    ]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_id == lead.id))
    assert entry is not None and (entry.via, entry.actor_id) == ("public", None)


def test_marketing_is_asked_apart_and_never_assumed(app: TestClient, session: Session) -> None:
    """Agreeing to be called about the test drive is not agreeing to marketing (PIPL: no bundling)."""
    page = app.get("/test-drive").text
    assert 'name="consent" value="yes" required' in page
    assert re.search(r'name="marketing" value="yes"(?! required)>', page)
    answer = _submit(app)
    assert answer.status_code == 200, answer.text
    [lead] = _form_leads(session)
    assert _count(session, Consent, Consent.customer_id == lead.customer_id) == 0


def test_the_same_form_posted_twice_is_one_lead(app: TestClient, session: Session) -> None:
    token, series = _open_form(app)
    first = _submit(app, token=token, series=series)
    again = _submit(app, token=token, series=series)
    assert first.status_code == again.status_code == 200
    assert len(_form_leads(session)) == 1 and _prospects(session) == 1


def test_the_same_page_sent_back_for_someone_else_is_a_second_lead(app: TestClient, session: Session) -> None:
    token, series = _open_form(app)
    _submit(app, token=token, series=series)
    _submit(app, token=token, series=series, name="周杰的爱人", phone="13700003333")  # browser back, edited
    assert len(_form_leads(session)) == 2


def test_honeypot_is_thanked_and_forgotten(app: TestClient, session: Session) -> None:
    answer = _submit(app, website="http://spam.example")
    assert answer.status_code == 200 and "销售顾问将尽快致电" in answer.text
    assert _form_leads(session) == [] and _prospects(session) == 0


def test_without_consent_nothing_is_stored(app: TestClient, session: Session) -> None:
    answer = _submit(app, consent=None)
    assert answer.status_code == 422
    assert 'id="consent-error"' in answer.text and "请阅读并勾选同意" in answer.text
    assert _form_leads(session) == [] and _prospects(session) == 0


def test_bad_phone_is_shown_at_the_field_and_keeps_the_values(app: TestClient, session: Session) -> None:
    answer = _submit(app, phone="12345")
    assert answer.status_code == 422
    phone_field = re.search(
        r'<input id="phone"[^>]*>\s*<p class="field-error" id="phone-error">([^<]+)</p>', answer.text
    )
    assert phone_field and "手机号码" in phone_field.group(1)
    assert 'aria-invalid="true" aria-describedby="phone-error"' in answer.text
    for kept in ('value="周杰"', 'value="12345"', f'value="{BINJIANG}"', 'value="周六上午"', "checked"):
        assert kept in answer.text
    assert re.search(r"<option value=\"[^\"]+\" selected>锐界</option>", answer.text)
    assert _form_leads(session) == []


def test_every_bad_field_is_named_at_once(app: TestClient) -> None:
    answer = _submit(app, name=" ", address="", series="no-such-series", preferred_time="很" * 61)
    assert answer.status_code == 422
    errors = set(re.findall(r'id="([a-z_]+)-error"', answer.text))
    assert errors == {"name", "address", "series", "preferred_time"}


@pytest.mark.parametrize(
    ("cookie", "token", "status"),
    [
        pytest.param(False, "", 400, id="no-token-no-cookie"),
        pytest.param(False, "made-up-token-value-000000000000", 400, id="token-without-cookie"),
        pytest.param(True, "", 400, id="cookie-without-token"),
        pytest.param(True, "forged-token-value-00000000000000", 403, id="token-not-the-cookie"),
    ],
)
def test_missing_or_forged_form_token_stores_nothing(
    app: TestClient, session: Session, cookie: bool, token: str, status: int
) -> None:
    series = _open_form(app)[1] if cookie else ""
    if not cookie:
        app.cookies.clear()
    answer = _submit(app, token=token, series=series)
    assert answer.status_code == status
    assert "页面已过期" in answer.text and 'value="周杰"' in answer.text  # the owner can simply send again
    assert _form_leads(session) == [] and _prospects(session) == 0


def test_sixth_submission_in_ten_minutes_is_429_until_the_window_passes(
    app: TestClient, session: Session, frozen_clock: datetime
) -> None:
    token, series = _open_form(app)
    for _ in range(5):
        assert _submit(app, token=token, series=series).status_code == 200
    blocked = _submit(app, token=token, series=series, phone="13700002222")
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "600" and "请 10 分钟后再试" in blocked.text
    assert 'value="13700002222"' in blocked.text
    clock.advance(timedelta(minutes=10))
    fresh_token, _ = _open_form(app)
    assert _submit(app, token=fresh_token, series=series, phone="13700002222").status_code == 200
    assert len(_form_leads(session)) == 2


def test_english_through_the_language_cookie(app: TestClient) -> None:
    app.cookies.set("dt_lang", "en")
    page = app.get("/test-drive")
    assert "Book a test drive" in page.text and ">Edge</option>" in page.text
    assert 'lang="en"' in page.text
