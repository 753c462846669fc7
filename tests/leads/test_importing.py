"""CSV imports: leads captured row by row (bad rows reported, re-imports add nothing) and channel spend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from drivetrain.app import create_app
from drivetrain.auth import service as auth_service
from drivetrain.auth.models import AuditEntry
from drivetrain.cli import app as cli
from drivetrain.customers.models import Consent
from drivetrain.db import Database
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.importing import read_csv
from drivetrain.leads.importing import (
    IMPORT_SOURCE_PREFIX,
    import_leads,
    import_spend,
    parse_amount,
    parse_day,
)
from drivetrain.leads.models import ChannelSpend, Lead, LeadTouch
from drivetrain.leads.reports import api as reports_api
from drivetrain.org.models import Dealer
from tests.world import World

BINJIANG = "浙江省杭州市滨江区江南大道100号"
WUHOU = "四川省成都市武侯区二环路南四段9号"
HEADER = "name,phone,address,city,series,brand,channel,campaign,source_ref,note,consent_marketing"
LEADS_CSV = f"""{HEADER}
周杰,13700001111,{BINJIANG},,锐界,,ad,双11,,,1
坏号码,12345,{BINJIANG},,锐界,,ad,双11,,,
未知车型,13700002222,{BINJIANG},,Model Z,,ad,双11,,,
信鸽,13700003333,{BINJIANG},,锐界,,carrier_pigeon,,,,
蔡琳,137 0000 4444,{WUHOU},,领界,,hotline,,ref-77,回电,是
无地址,13700005555,,,锐界,,ad,,,,
犹豫,13700006666,,杭州,锐界,,ad,,,,maybe
"""


def _import(session: Session, world: World, text: str, *, user: str = "integration"):  # type: ignore[no-untyped-def]
    return import_leads(
        session, world.subject(user), read_csv(text.encode()), idempotent_prefix=IMPORT_SOURCE_PREFIX
    )


def _count(session: Session, model: type, *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


IMPORTED = Lead.source_ref.not_like("world-%")  # the world holds a lead per customer already


@pytest.fixture
def api_for(db: Database, world: World, session: Session) -> Callable[[str], TestClient]:
    """An API client of a staff member, with the reports router mounted if app.py does not yet."""

    def make(username: str) -> TestClient:
        plain, _ = auth_service.create_token(
            session, world.subject("hq_admin"), user=world.users[username], name="t"
        )
        session.commit()
        app = create_app()
        if not any(getattr(route, "path", "") == "/api/v1/leads/import" for route in app.routes):
            app.include_router(reports_api.router, prefix="/api/v1")
        client = TestClient(app)
        client.headers["Authorization"] = f"Bearer {plain}"
        return client

    return make


# ---------------------------------------------------------------- leads


def test_good_rows_are_captured_and_bad_ones_reported_by_row_and_field(
    session: Session, world: World, frozen_clock
) -> None:
    report = _import(session, world, LEADS_CSV)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "phone"),
        (3, "series"),
        (4, "channel"),
        (6, "address"),
        (7, "consent_marketing"),
    ]
    assert "unknown series Model Z" in report.errors[1].reason
    leads = session.execute(
        select(Lead.source_ref, Dealer.code)
        .join(Dealer, Dealer.id == Lead.dealer_id)
        .where(IMPORTED)
        .order_by(Dealer.code)
    ).all()
    assert [code for _, code in leads] == ["A1", "B1"]
    assert leads[0].source_ref.startswith(IMPORT_SOURCE_PREFIX) and leads[1].source_ref == "ref-77"
    granted = session.scalars(select(Consent.status).where(Consent.source.like("lead:%"))).all()
    assert sorted(granted) == ["granted", "granted"]


def test_reimporting_the_same_file_changes_nothing(session: Session, world: World, frozen_clock) -> None:
    _import(session, world, LEADS_CSV)
    leads, touches = _count(session, Lead), _count(session, LeadTouch)
    again = _import(session, world, LEADS_CSV)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert len(again.errors) == 5
    assert (_count(session, Lead), _count(session, LeadTouch)) == (leads, touches)


def test_a_row_for_an_open_lead_becomes_a_touch_once(session: Session, world: World, frozen_clock) -> None:
    _import(session, world, f"{HEADER}\n周杰,13700001111,{BINJIANG},,锐界,,ad,双11,,,\n")
    live = f"{HEADER}\n周杰,13700001111,{BINJIANG},,锐界,,live_stream,直播间,,,\n"
    first, second = _import(session, world, live), _import(session, world, live)
    assert (first.created, first.updated, second.updated, second.unchanged) == (0, 1, 0, 1)
    assert (
        _count(session, Lead, IMPORTED),
        _count(session, LeadTouch, LeadTouch.source_ref.like("import:%")),
    ) == (1, 2)


def test_a_dealer_import_stays_at_the_dealer(session: Session, world: World, frozen_clock) -> None:
    report = _import(session, world, f"{HEADER}\n蔡琳,13700004444,{WUHOU},,领界,,walk_in,,,,\n", user="sm_a1")
    assert report.created == 1
    assert session.scalar(select(Lead.dealer_id).where(IMPORTED)) == world.dealers["A1"].id


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{HEADER},wechat\n", "unknown column 'wechat'"),
        ("name,phone,address,series\n", "missing column 'channel'"),
        ("name,phone,series,channel\n", "missing column 'address' (or 'city')"),
    ],
)
def test_a_file_with_wrong_columns_is_refused_whole(
    session: Session, world: World, text: str, reason: str
) -> None:
    row = "周杰,13700001111,滨江,锐界,ad,,,,,,,,\n"
    with pytest.raises(InvalidInput) as refused:
        _import(session, world, text + row)
    assert refused.value.field == "columns" and reason in refused.value.reason
    assert _count(session, Lead, IMPORTED) == 0


def test_a_row_wider_than_the_header_is_reported(session: Session, world: World) -> None:
    filled = f"周杰,13700001111,{BINJIANG},,锐界,,ad,,,,,extra"
    trailing_empty_cells = f"蔡琳,13700004444,{WUHOU},,领界,,ad,,,,,,"
    report = _import(session, world, f"{HEADER}\n{filled}\n{trailing_empty_cells}\n")
    assert [(e.row, e.field) for e in report.errors] == [(1, "row")] and report.created == 1


def test_gbk_file_through_the_api(api_for, session: Session, frozen_clock) -> None:
    body = f"{HEADER}\n周杰,13700001111,{BINJIANG},,锐界,,ad,双11,,,否\n坏号码,123,{BINJIANG},,锐界,,ad,,,,\n"
    answer = api_for("integration").post(
        "/api/v1/leads/import", content=body.encode("gbk"), headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["created"], result["unchanged"]) == (1, 0)
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(2, "phone")]
    assert session.scalar(select(Lead.campaign).where(IMPORTED)) == "双11"
    bom = api_for("integration").post(
        "/api/v1/leads/import", content=b"\xef\xbb\xbf" + body.encode(), headers={"Content-Type": "text/csv"}
    )
    assert bom.json()["unchanged"] == 1


def test_api_import_needs_capture_permission_and_a_csv(api_for) -> None:
    refused = api_for("quality").post(
        "/api/v1/leads/import", content=HEADER.encode(), headers={"Content-Type": "text/csv"}
    )
    assert refused.status_code == 403
    empty = api_for("integration").post(
        "/api/v1/leads/import", content=b" \r\n", headers={"Content-Type": "text/csv"}
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "file"
    client = api_for("integration")
    for unreadable in (b"\xff\xfe\x00name", b"name\x00,phone\n", b'name\n"' + b"x" * 200_000 + b'"\n'):
        answer = client.post("/api/v1/leads/import", content=unreadable, headers={"Content-Type": "text/csv"})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "file", unreadable[:20]


def test_cli_imports_leads(tmp_path: Path, db: Database, session: Session, frozen_clock) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(LEADS_CSV.encode("gb18030"))
    result = CliRunner().invoke(cli, ["import", "leads", str(path)])
    assert result.exit_code == 0, result.output
    assert "row 2 phone" in result.output and "row 4 channel" in result.output
    assert "2 created" in result.output and "5 rejected" in result.output
    again = CliRunner().invoke(cli, ["import", "leads", str(path)])
    assert "0 created" in again.output and "2 unchanged" in again.output


# ---------------------------------------------------------------- spend

SPEND_CSV = """date,channel,campaign,amount
2026-03-01,ad,双11,"1,234.50"
2026/03/02,ad,,200
2026/3/2,weibo,春季,0
"""


def test_spend_upserts_by_day_channel_and_campaign(session: Session, world: World) -> None:
    hq = world.subject("hq_ops")
    first = import_spend(session, hq, read_csv(SPEND_CSV.encode()))
    assert (first.created, first.updated, first.unchanged, first.errors) == (3, 0, 0, [])
    stored = session.execute(select(ChannelSpend.spend_on, ChannelSpend.campaign, ChannelSpend.amount)).all()
    assert sorted(stored) == [
        (date(2026, 3, 1), "双11", Decimal("1234.50")),
        (date(2026, 3, 2), "", Decimal("200.00")),
        (date(2026, 3, 2), "春季", Decimal("0.00")),
    ]
    changed = SPEND_CSV.replace("2026/03/02,ad,,200", "2026-03-02,ad,,250.5")
    second = import_spend(session, hq, read_csv(changed.encode()))
    assert (second.created, second.updated, second.unchanged) == (0, 1, 2)
    assert session.scalar(select(ChannelSpend.amount).where(ChannelSpend.campaign == "")) == Decimal("250.50")
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.entity_type == "channel_spend")
    ).all()
    assert sorted(actions) == ["channel_spend.create"] * 3 + ["channel_spend.update"]


def test_bad_spend_rows_are_reported_by_row_and_field(session: Session, world: World) -> None:
    text = """date,channel,campaign,amount
2026-02-30,ad,,10
03/01/2026,ad,,10
2026-03-01,ad,,-5
2026-03-01,ad,,1.005
2026-03-01,ad,,ten
2026-03-01,billboard,,10
2026-03-01,ad,,12,345.00
2026-03-01,ad,A,10
2026-03-01,ad,A,11
"""
    report = import_spend(session, world.subject("hq_ops"), read_csv(text.encode()))
    assert [(e.row, e.field) for e in report.errors] == [
        (1, "date"),
        (2, "date"),
        (3, "amount"),
        (4, "amount"),
        (5, "amount"),
        (6, "channel"),
        (7, "row"),
        (9, "row"),
    ]
    reasons = [e.reason for e in report.errors]
    assert reasons[:4] == [
        "not a calendar date",
        "use YYYY-MM-DD or YYYY/MM/DD",
        "must not be negative",
        "at most 2 decimal places",
    ]
    assert "row 8" in reasons[-1]
    assert report.created == 1 and _count(session, ChannelSpend) == 1


def test_spend_import_is_for_hq(api_for, session: Session) -> None:
    refused = api_for("sm_a1").post(
        "/api/v1/spend/import", content=SPEND_CSV.encode(), headers={"Content-Type": "text/csv"}
    )
    assert refused.status_code == 403
    answer = api_for("hq_ops").post(
        "/api/v1/spend/import", content=SPEND_CSV.encode("gbk"), headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"created": 3, "updated": 0, "unchanged": 0, "errors": []}


def test_cli_imports_spend(tmp_path: Path, db: Database, session: Session) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(SPEND_CSV + "2026-03-01,ad,,-1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "spend", str(path)])
    assert result.exit_code == 0, result.output
    assert "row 4 amount: must not be negative" in result.output and "3 created" in result.output
    path.write_text("date,channel,budget\n2026-03-01,ad,1\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["import", "spend", str(path)])
    assert refused.exit_code == 2 and "unknown column 'budget'" in refused.output


@pytest.mark.parametrize(
    ("text", "amount"),
    [("0", "0.00"), ("1234.5", "1234.50"), ("1,234.50", "1234.50"), (" 12,345,678.9 ", "12345678.90")],
)
def test_amounts(text: str, amount: str) -> None:
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["-1", "1.234", "1,23.00", "12,3456", "¥100", "1e3", "", "999999999999999"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [("2026-03-02", date(2026, 3, 2)), ("2026/03/02", date(2026, 3, 2)), ("2026/3/2", date(2026, 3, 2))],
)
def test_days(text: str, day: date) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize("text", ["2026-3/2", "02/03/2026", "2026-02-29", "20260302", "2026-13-01"])
def test_bad_days(text: str) -> None:
    with pytest.raises(ValueError):
        parse_day(text)


def test_a_dealer_import_never_reveals_another_dealers_customer(session: Session, world: World) -> None:
    phone = world.phones["cust_a1"].removeprefix("+86")
    report = _import(session, world, f"{HEADER}\n张伟,{phone},{BINJIANG},,锐界,,walk_in,,,,\n", user="sm_a2")
    assert (report.created, report.updated, report.errors) == (1, 0, [])
    lead = session.scalar(select(Lead).where(IMPORTED))
    assert lead is not None and lead.dealer_id == world.dealers["A2"].id
    assert lead.customer_id != world.customers["cust_a1"]
