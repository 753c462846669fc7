"""Attribution and ROI by channel and campaign, and first contact against the SLA by dealer.

The scenario is small enough to count by hand. All six leads are captured at once (17:00 in
Hangzhou and Chengdu on Monday 2 March 2026; the SLA is 15 working minutes, so due 17:15):

    lead  dealer  channel  campaign  first contact        pipeline
    L1    A1      ad       双11      +60 s                test drive done → ordered
    L2    A1      ad       双11      +180 s               test drive done → lost
    L3    B1      ad       双11      never (breached)
    L4    B1      ad       -         +300 s               negotiating → ordered → won
    L5    A1      hotline  -         +600 s
    L6    A1      hotline  -         +1200 s (breached)

Spend (1 to 2 March): ad/双11 300 + 1,200; ad/- 200; weibo/春季 500 (no leads); ad/双11 on
28 February (999) is outside the period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from drivetrain.app import create_app
from drivetrain.auth import service as auth_service
from drivetrain.auth.subject import SYSTEM
from drivetrain.db import Database
from drivetrain.kit import clock, periods
from drivetrain.leads import service, sla
from drivetrain.leads.capture import capture
from drivetrain.leads.importing import import_spend
from drivetrain.leads.models import Lead, Stage
from drivetrain.leads.reports import api as reports_api
from drivetrain.leads.reports import service as reports
from drivetrain.leads.reports.service import LeadFacts
from drivetrain.leads.schemas import LeadCreate, StageChange
from tests.world import World

BINJIANG = "浙江省杭州市滨江区江南大道100号"
WUHOU = "四川省成都市武侯区二环路南四段9号"
MARCH_1, MARCH_2 = date(2026, 3, 1), date(2026, 3, 2)
PERIOD = {"start": "2026-03-01", "end": "2026-03-02"}
SPEND = [
    {"date": "2026-03-01", "channel": "ad", "campaign": "双11", "amount": "300"},
    {"date": "2026-03-02", "channel": "ad", "campaign": "双11", "amount": "1,200.00"},
    {"date": "2026-03-02", "channel": "ad", "campaign": "", "amount": "200"},
    {"date": "2026-03-02", "channel": "weibo", "campaign": "春季", "amount": "500"},
    {"date": "2026-02-28", "channel": "ad", "campaign": "双11", "amount": "999"},
]


@dataclass(frozen=True)
class Planned:
    address: str
    channel: str
    campaign: str | None
    contact_after: int | None
    stages: tuple[Stage, ...] = ()


PLAN = {
    "L1": Planned(
        BINJIANG, "ad", "双11", 60, (Stage.TEST_DRIVE_SCHEDULED, Stage.TEST_DRIVE_DONE, Stage.ORDERED)
    ),
    "L2": Planned(
        BINJIANG, "ad", "双11", 180, (Stage.TEST_DRIVE_SCHEDULED, Stage.TEST_DRIVE_DONE, Stage.LOST)
    ),
    "L3": Planned(WUHOU, "ad", "双11", None),
    "L4": Planned(WUHOU, "ad", None, 300, (Stage.NEGOTIATING, Stage.ORDERED, Stage.WON)),
    "L5": Planned(BINJIANG, "hotline", None, 600),
    "L6": Planned(BINJIANG, "hotline", None, 1200),
}
BREACH_AFTER = 1000


def _capture(session: Session, world: World, n: int, plan: Planned) -> Lead:
    data = LeadCreate(
        name=f"客户{n}",
        phone=f"1370000{n:04d}",
        address=plan.address,
        series="锐界",
        channel=plan.channel,  # type: ignore[arg-type]
        campaign=plan.campaign,
    )
    return capture(session, world.subject("integration"), data=data).lead


def _move(session: Session, world: World, lead: Lead, stage: Stage) -> None:
    reason = "买了别家" if stage is Stage.LOST else None
    service.change_stage(
        session, world.subject("hq_ops"), lead, data=StageChange(stage=stage, lost_reason=reason)
    )


@pytest.fixture
def scenario(session: Session, world: World, frozen_clock: datetime) -> dict[str, Lead]:
    leads = {key: _capture(session, world, n, plan) for n, (key, plan) in enumerate(PLAN.items())}
    assert {lead.first_contact_due_at for lead in leads.values()} == {frozen_clock + timedelta(minutes=15)}
    events = sorted(
        [(plan.contact_after, key, "contact") for key, plan in PLAN.items() if plan.contact_after]
        + [(BREACH_AFTER, "L3", "breach"), (BREACH_AFTER, "L6", "breach")]
    )
    for after, key, what in events:
        clock.advance(frozen_clock + timedelta(seconds=after) - clock.now())
        if what == "breach":
            assert sla.breach_first_contact(session, leads[key].id, now=clock.now())
        else:
            _move(session, world, leads[key], Stage.CONTACTED)
    for key, plan in PLAN.items():
        for stage in plan.stages:
            _move(session, world, leads[key], stage)
    import_spend(session, SYSTEM, SPEND)
    session.commit()
    return leads


@pytest.fixture
def api_for(db: Database, world: World, session: Session) -> Callable[[str], TestClient]:
    """An API client of a staff member, with the reports router mounted if app.py does not yet."""

    def make(username: str) -> TestClient:
        plain, _ = auth_service.create_token(
            session, world.subject("hq_admin"), user=world.users[username], name="t"
        )
        session.commit()
        app = create_app()
        if not any(getattr(route, "path", "") == "/api/v1/reports/lead-channels" for route in app.routes):
            app.include_router(reports_api.router, prefix="/api/v1")
        client = TestClient(app)
        client.headers["Authorization"] = f"Bearer {plain}"
        return client

    return make


def _row(channel: str, campaign: str | None, *values: Any) -> dict[str, Any]:
    names = (
        "leads",
        "contacted",
        "contacted_pct",
        "median_first_contact_seconds",
        "test_drives",
        "orders",
        "spend",
        "cost_per_lead",
        "cost_per_order",
    )
    return {"channel": channel, "campaign": campaign, **dict(zip(names, values, strict=True))}


HQ_CHANNELS = [
    _row("ad", None, 1, 1, 100.0, 300.0, 1, 1, "200.00", "200.00", "200.00"),
    _row("ad", "双11", 3, 2, 66.7, 120.0, 2, 1, "1500.00", "500.00", "1500.00"),
    _row("hotline", None, 2, 2, 100.0, 900.0, 0, 0, "0.00", "0.00", None),
    _row("weibo", "春季", 0, 0, None, None, 0, 0, "500.00", None, None),
]
A1_CHANNELS = [
    _row("ad", "双11", 2, 2, 100.0, 120.0, 2, 1, None, None, None),
    _row("hotline", None, 2, 2, 100.0, 900.0, 0, 0, None, None, None),
]
A1_FIRST_CONTACT = {
    "dealer_code": "A1",
    "dealer_name": "杭州滨江福特4S店",
    "leads": 4,
    "contacted": 4,
    "median_first_contact_seconds": 390.0,
    "within_sla": 3,
    "within_sla_pct": 75.0,
    "sla_breaches": 1,
    "waiting_past_due": 0,
}
B1_FIRST_CONTACT = {
    "dealer_code": "B1",
    "dealer_name": "成都武侯福特4S店",
    "leads": 2,
    "contacted": 1,
    "median_first_contact_seconds": 300.0,
    "within_sla": 1,
    "within_sla_pct": 50.0,
    "sla_breaches": 1,
    "waiting_past_due": 1,
}


def _dumped(rows: list[Any]) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in rows]


def test_channel_report_for_hq(session: Session, world: World, scenario) -> None:
    rows = reports.channel_report(session, world.subject("hq_ops"), start=MARCH_1, end=MARCH_2)
    assert _dumped(rows) == HQ_CHANNELS


def test_channel_report_for_a_dealer_has_its_leads_and_no_cost(
    session: Session, world: World, scenario
) -> None:
    rows = reports.channel_report(session, world.subject("sm_a1"), start=MARCH_1, end=MARCH_2)
    assert _dumped(rows) == A1_CHANNELS


def test_leads_outside_the_period_do_not_count(session: Session, world: World, scenario) -> None:
    hq = world.subject("hq_ops")
    assert reports.channel_report(session, hq, start=date(2026, 3, 3), end=date(2026, 3, 9)) == []
    earlier = reports.channel_report(session, hq, start=date(2026, 2, 28), end=MARCH_1)
    assert [(r.channel, r.campaign, r.leads, r.spend) for r in earlier] == [
        ("ad", "双11", 0, Decimal("1299.00"))
    ]


def test_first_contact_by_dealer(session: Session, world: World, scenario) -> None:
    hq = reports.first_contact_by_dealer(session, world.subject("hq_ops"), start=MARCH_1, end=MARCH_2)
    assert _dumped(hq) == [A1_FIRST_CONTACT, B1_FIRST_CONTACT]
    region = reports.first_contact_by_dealer(
        session, world.subject("region_east"), start=MARCH_1, end=MARCH_2
    )
    assert _dumped(region) == [A1_FIRST_CONTACT]


def test_the_report_api(api_for, scenario) -> None:
    hq = api_for("hq_ops").get("/api/v1/reports/lead-channels", params=PERIOD)
    assert hq.status_code == 200, hq.text
    assert hq.json() == {**PERIOD, "costs_visible": True, "rows": HQ_CHANNELS}
    dealer = api_for("sm_a1").get("/api/v1/reports/lead-channels", params=PERIOD)
    assert dealer.json() == {**PERIOD, "costs_visible": False, "rows": A1_CHANNELS}
    first_contact = api_for("sm_a1").get("/api/v1/reports/first-contact", params=PERIOD)
    assert first_contact.json() == {**PERIOD, "rows": [A1_FIRST_CONTACT]}


def test_the_default_period_is_the_last_30_days(api_for, frozen_clock) -> None:
    answer = api_for("hq_ops").get("/api/v1/reports/first-contact")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"start": "2026-02-01", "end": "2026-03-02", "rows": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-03-05", "end": "2026-03-01"}, "start"),
        ({"start": "2026-13-01"}, "start"),
        ({"end": "tomorrow"}, "end"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "end"),
        ({"end": "9999-12-31"}, "end"),
        ({"start": "0001-01-01"}, "start"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/reports/lead-channels", "/api/v1/reports/first-contact"])
def test_a_bad_period_names_the_field(
    api_for, frozen_clock, path: str, params: dict[str, str], field: str
) -> None:
    answer = api_for("hq_ops").get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_a_full_leap_year_is_allowed(api_for, frozen_clock) -> None:
    answer = api_for("hq_ops").get(
        "/api/v1/reports/lead-channels", params={"start": "2024-01-01", "end": "2024-12-31"}
    )
    assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------- the arithmetic alone

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _facts(**changes: Any) -> LeadFacts:
    base: dict[str, Any] = {
        "channel": "ad",
        "campaign": "",
        "dealer_id": "d1",
        "stage": "new",
        "created_at": T0,
        "first_contacted_at": None,
        "first_contact_due_at": T0 + timedelta(minutes=15),
        "sla_breaches": 0,
        "reached": frozenset({"new"}),
    }
    return LeadFacts(**(base | changes))


@pytest.mark.parametrize(
    ("facts", "waiting"),
    [
        (_facts(), False),
        (_facts(first_contact_due_at=T0), True),
        (_facts(sla_breaches=1, first_contact_due_at=None), True),
        (_facts(sla_breaches=1, first_contacted_at=T0), False),
        (_facts(stage="lost", first_contact_due_at=None, sla_breaches=1), False),
    ],
)
def test_waiting_past_due(facts: LeadFacts, waiting: bool) -> None:
    assert facts.waiting_past_due(T0 + timedelta(seconds=1)) is waiting


def test_money_and_shares() -> None:
    assert reports.per(Decimal("100.00"), 3) == Decimal("33.33")
    assert reports.per(Decimal("0.05"), 2) == Decimal("0.03")
    assert reports.per(Decimal("100.00"), 0) is None and reports.per(None, 5) is None
    assert periods.percent(2, 3) == 66.7 and periods.percent(0, 0) is None
    contacted = [_facts(first_contacted_at=T0 + timedelta(seconds=s)) for s in (10, 30, 20)]
    assert reports.median_seconds([*contacted, _facts()]) == 20.0
    assert reports.median_seconds([_facts()]) is None


def test_rows_without_spend_hide_costs() -> None:
    rows = reports.channel_rows([_facts(campaign="x", reached=frozenset({"won"}))], None)
    assert [(r.campaign, r.test_drives, r.orders, r.spend, r.cost_per_order) for r in rows] == [
        ("x", 1, 1, None, None)
    ]
