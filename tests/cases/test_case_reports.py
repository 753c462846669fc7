"""First response and resolution against the SLA, and CSAT, per dealer and per owner account.

The scenario is small enough to count by hand. Every priority gets a 24x7 policy: first response
within 600 s, resolution within 3,600 s, each rung 800 s. From Monday 2 March 2026 09:00 in China
(t = seconds after it; the report is read at t = 7,200):

    case  dealer  opened  escalated (t=800)   first response      resolved            CSAT
    C1    A1      0       no (waiting)        300  in time        1,800 in time       5
    C2    A1      0       sa_a1 → sm_a1       900  late           5,400 late          2
    C3    A1      0       no (waiting)        600  in time (=due) never: past due
    C4    B1      0       sm_b1 → hq_ops      1,200 late          1,200 in time       sent, unanswered
    C5    B1      6,000                       never               never: due 9,600
    C6    -       900     (HQ: hq_ops)        never               never: past due
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.cases import service
from drivetrain.cases.csat import service as csat
from drivetrain.cases.models import Case, Priority
from drivetrain.cases.reports.service import GroupBy, case_sla
from drivetrain.cases.schemas import CaseCreate, CaseStatusChange, SlaPolicyUpdate
from drivetrain.cases.tasks import sweep_escalations
from drivetrain.db import Database
from drivetrain.jobs.models import OutboxMessage
from drivetrain.kit import clock
from tests.query_budget import assert_within_budget, counted
from tests.world import World

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MARCH_2 = date(2026, 3, 2)
PERIOD = {"since": "2026-03-02", "until": "2026-03-02"}
NOISE = "保养后发动机有异响，很不满意"


@pytest.fixture
def monday(db: Database) -> Iterator[datetime]:
    clock.freeze(T0)
    yield T0
    clock.unfreeze()


def _at(seconds: int) -> None:
    clock.advance(T0 + timedelta(seconds=seconds) - clock.now())


def _open(session: Session, world: World, dealer: str | None, phone: str | None = None) -> str:
    data = CaseCreate(description=NOISE, channel="hotline", dealer_code=dealer, phone=phone)  # type: ignore[arg-type]
    case = service.open_case(session, world.subject("hq_ops"), data=data)
    session.commit()
    return case.id


def _status(session: Session, world: World, case_id: str, status: str) -> None:
    session.expire_all()
    case = session.get(Case, case_id)
    assert case is not None
    note = "已处理" if status == "resolved" else None
    service.change_status(
        session, world.subject("hq_ops"), case, data=CaseStatusChange(status=status, note=note)
    )  # type: ignore[arg-type]
    if status == "resolved":
        csat.send_survey(session, case)  # change_status sends it once wired; then this call is a no-op
    session.commit()


def _answer(session: Session, case_id: str, score: int) -> None:
    [token] = [
        m.payload["params"]["token"]
        for m in session.query(OutboxMessage).filter(OutboxMessage.topic == csat.SMS_TOPIC)
        if m.payload["out_id"] == case_id
    ]
    csat.answer(session, token=token, score=score, comment=None)
    session.commit()


@pytest.fixture
def scenario(db: Database, session: Session, world: World, monday: datetime) -> dict[str, str]:
    policy = SlaPolicyUpdate(
        first_response_seconds=600, resolution_seconds=3600, escalation_seconds=800, business_hours=False
    )
    for priority in Priority:
        service.update_policy(session, world.subject("hq_ops"), priority, data=policy)
    session.commit()
    a1, b1 = world.phones["cust_a1"], world.phones["cust_b1"]
    cases = {name: _open(session, world, "A1", a1) for name in ("C1", "C2", "C3")}
    cases["C4"] = _open(session, world, "B1", b1)
    steps: list[tuple[int, Callable[[], None]]] = [
        (300, lambda: _status(session, world, cases["C1"], "waiting_customer")),
        (600, lambda: _status(session, world, cases["C3"], "waiting_customer")),
        (800, lambda: None if sweep_escalations(db, "w1") == 2 else pytest.fail("C2 and C4 climb")),
        (900, lambda: _status(session, world, cases["C2"], "waiting_customer")),
        (900, lambda: cases.__setitem__("C6", _open(session, world, None))),
        (1200, lambda: _status(session, world, cases["C4"], "resolved")),
        (1800, lambda: _status(session, world, cases["C1"], "resolved")),
        (5400, lambda: _status(session, world, cases["C2"], "resolved")),
        (6000, lambda: cases.__setitem__("C5", _open(session, world, "B1"))),
        (7000, lambda: _answer(session, cases["C1"], 5)),
        (7100, lambda: _answer(session, cases["C2"], 2)),
        (7200, lambda: None),
    ]
    for at, step in steps:
        _at(at)
        step()
    return cases


def _row(key: dict[str, Any], *values: Any) -> dict[str, Any]:
    names = (
        "cases",
        "first_responses",
        "median_first_response_seconds",
        "first_responses_within_sla",
        "first_responses_within_sla_pct",
        "resolved",
        "median_resolution_seconds",
        "resolved_within_sla",
        "resolved_within_sla_pct",
        "open_past_due",
        "csat_responses",
        "csat_average",
    )
    base = {"dealer_code": None, "dealer_name": None, "owner": None}
    return base | key | dict(zip(names, values, strict=True))


A1 = _row(
    {"dealer_code": "A1", "dealer_name": "杭州滨江福特4S店"},
    3,
    3,
    600.0,
    2,
    66.7,
    2,
    3600.0,
    1,
    50.0,
    1,
    2,
    3.5,
)
B1 = _row(
    {"dealer_code": "B1", "dealer_name": "成都武侯福特4S店"},
    2,
    1,
    1200.0,
    0,
    0.0,
    1,
    1200.0,
    1,
    100.0,
    0,
    0,
    None,
)
HQ = _row({}, 1, 0, None, 0, None, 0, None, 0, None, 1, 0, None)
BY_OWNER = [
    _row({"owner": "hq_ops"}, 2, 1, 1200.0, 0, 0.0, 1, 1200.0, 1, 100.0, 1, 0, None),
    _row({"owner": "sa_a1"}, 2, 2, 450.0, 2, 100.0, 1, 1800.0, 1, 100.0, 1, 1, 5.0),
    _row({"owner": "sm_a1"}, 1, 1, 900.0, 0, 0.0, 1, 5400.0, 0, 0.0, 0, 1, 2.0),
    _row({"owner": "sm_b1"}, 1, 0, None, 0, None, 0, None, 0, None, 0, 0, None),
]


def _dumped(session: Session, world: World, username: str, group_by: GroupBy) -> list[dict[str, Any]]:
    rows = case_sla(session, world.subject(username), start=MARCH_2, end=MARCH_2, group_by=group_by)
    return [row.model_dump(mode="json") for row in rows]


def test_per_dealer_for_hq(session: Session, world: World, scenario: dict[str, str]) -> None:
    assert _dumped(session, world, "hq_ops", GroupBy.DEALER) == [A1, B1, HQ]


def test_per_owner_for_hq(session: Session, world: World, scenario: dict[str, str]) -> None:
    assert _dumped(session, world, "hq_ops", GroupBy.OWNER) == BY_OWNER


def test_a_dealer_sees_only_its_own_cases(session: Session, world: World, scenario: dict[str, str]) -> None:
    assert _dumped(session, world, "sm_a1", GroupBy.DEALER) == [A1]
    assert _dumped(session, world, "sm_b1", GroupBy.DEALER) == [B1]
    assert _dumped(session, world, "region_east", GroupBy.DEALER) == [A1]
    assert [r["owner"] for r in _dumped(session, world, "sm_a1", GroupBy.OWNER)] == ["sa_a1", "sm_a1"]
    assert [r["owner"] for r in _dumped(session, world, "sm_b1", GroupBy.OWNER)] == ["hq_ops", "sm_b1"]


def test_cases_opened_outside_the_period_do_not_count(
    session: Session, world: World, scenario: dict[str, str]
) -> None:
    later = case_sla(
        session,
        world.subject("hq_ops"),
        start=date(2026, 3, 3),
        end=date(2026, 3, 9),
        group_by=GroupBy.DEALER,
    )
    assert later == []


@pytest.fixture
def api_for(db: Database, world: World, session: Session) -> Callable[[str], TestClient]:
    def make(username: str) -> TestClient:
        plain, _ = auth_service.create_token(
            session, world.subject("hq_admin"), user=world.users[username], name="t"
        )
        session.commit()
        client = TestClient(_app())
        client.headers["Authorization"] = f"Bearer {plain}"
        client.get("/api/v1/me")  # the token's subject is then cached, as between real requests
        return client

    return make


def _app() -> Any:
    from drivetrain.app import create_app

    return create_app()


def test_the_report_api(api_for: Callable[[str], TestClient], scenario: dict[str, str]) -> None:
    hq = api_for("hq_ops").get("/api/v1/reports/case-sla", params=PERIOD | {"group_by": "owner"})
    assert hq.status_code == 200, hq.text
    assert hq.json() == PERIOD | {"group_by": "owner", "rows": BY_OWNER}
    dealer = api_for("sm_a1").get("/api/v1/reports/case-sla", params=PERIOD)
    assert dealer.json() == PERIOD | {"group_by": "dealer", "rows": [A1]}


def test_the_default_period_is_the_last_30_days(
    api_for: Callable[[str], TestClient], monday: datetime
) -> None:
    answer = api_for("hq_ops").get("/api/v1/reports/case-sla")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"since": "2026-02-01", "until": "2026-03-02", "group_by": "dealer", "rows": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-05", "until": "2026-03-01"}, "since"),
        ({"since": "2025-01-01", "until": "2026-01-02"}, "until"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"group_by": "region"}, "group_by"),
    ],
)
def test_bad_parameters_name_the_field(
    api_for: Callable[[str], TestClient], monday: datetime, params: dict[str, str], field: str
) -> None:
    answer = api_for("hq_ops").get("/api/v1/reports/case-sla", params=params)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_the_query_count_is_pinned_and_flat(
    db: Database, session: Session, world: World, api_for: Callable[[str], TestClient], monday: datetime
) -> None:
    api = api_for("hq_ops")
    name = "GET /api/v1/reports/case-sla"
    counts = []
    for dealers in (["A1"], ["A1", "A2", "B1", None] * 3):
        for dealer in dealers:
            _open(session, world, dealer, world.phones["cust_a1"] if dealer == "A1" else None)
        for group_by in ("dealer", "owner"):
            with counted(db) as statements:
                answer = api.get("/api/v1/reports/case-sla", params={"group_by": group_by})
            assert answer.status_code == 200, answer.text
            counts.append(len(statements))
    assert counts[:2] == counts[2:], f"{name}: {counts} (N+1?)"
    assert_within_budget("cases", name, counts)
