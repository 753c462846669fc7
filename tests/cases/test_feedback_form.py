"""The owner-side feedback form: it files a case through the one intake, linked to the owner's car and
placed at their dealer, and guards itself (form token, one case per page, honeypot, per-IP limit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.cases import public
from drivetrain.cases.models import Case
from drivetrain.kit.ratelimit import SlidingWindowLimiter
from tests.world import World, vin_for

COMPLAINT = "刹车有异响，保养后还是一样，希望尽快处理"


@pytest.fixture(autouse=True)
def fresh_limiters(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test client comes from the same address: each test starts with empty windows."""
    monkeypatch.setattr(public, "submissions", SlidingWindowLimiter(5, public.submissions.window))
    monkeypatch.setattr(public, "filed", SlidingWindowLimiter(1, public.filed.window))
    yield


def _token(client: TestClient) -> str:
    page = client.get("/feedback")
    assert page.status_code == 200, page.text
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _submit(client: TestClient, *, token: str | None = None, **changes: str) -> Any:
    fields = {"phone": "", "vin": "", "plate": "", "description": COMPLAINT, "website": ""}
    fields |= changes | {"form_token": token or _token(client)}
    return client.post("/feedback", data=fields)


def _website_cases(session: Session) -> list[Case]:
    session.expire_all()
    return list(session.scalars(select(Case).where(Case.channel == "website")))


def test_an_owner_files_a_case_that_reaches_their_dealer(
    app: TestClient, session: Session, world: World
) -> None:
    answer = _submit(app, phone=world.phones["cust_a1"], vin=vin_for(1).lower())
    assert answer.status_code == 200 and "反馈已收到" in answer.text
    [case] = _website_cases(session)
    assert case.customer_id == world.customers["cust_a1"] and case.vehicle_id == world.vehicles["cust_a1"]
    assert case.dealer_id == world.dealers["A1"].id and case.owner_id is not None
    assert (case.category, case.symptom) == ("brakes", "异响")


def test_a_double_submit_files_one_case(app: TestClient, session: Session, world: World) -> None:
    token = _token(app)
    for _ in range(2):
        assert _submit(app, token=token, phone=world.phones["cust_a1"]).status_code == 200
    assert len(_website_cases(session)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "13800000001", "vin": "LVSHCAE49RC000001"}, "vin"),
        ({"phone": "13800000001", "description": "坏了"}, "description"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_filed(
    app: TestClient, session: Session, changes: dict[str, str], field: str
) -> None:
    answer = _submit(app, **changes)
    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text and 'aria-invalid="true"' in answer.text
    assert _website_cases(session) == []


def test_guards_turn_away_bots_stale_pages_and_floods(app: TestClient, session: Session) -> None:
    assert (
        _submit(app, phone="13800000001", website="http://spam").status_code == 200
    )  # thanked, kept nothing
    assert _submit(app, phone="13800000001", token="forged").status_code == 403
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    for _ in range(3):
        _submit(app, phone="13800000001")
    flooded = _submit(app, phone="13800000001")
    assert flooded.status_code == 429 and flooded.headers["Retry-After"]
    assert COMPLAINT in flooded.text  # what the owner typed is kept
    assert len(_website_cases(session)) == 3
