"""The 360 timeline in one chronological view: kind groups, source systems and China days filter it, in
the API (checked: 422 naming the field) and on the console page (re-rendered alone for HTMX)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.service import add_timeline
from drivetrain.sources import service
from drivetrain.sources.events import project_source_events
from drivetrain.sources.models import SourceRecord, SourceType
from drivetrain.sources.schemas import SourceCreate
from tests.conftest import Console
from tests.world import World

ClientFor = Callable[[str], TestClient]
SignIn = Callable[[str], Console]

SOURCE_ROWS: dict[tuple[str, SourceType], list[dict[str, Any]]] = {
    ("dms-hz", SourceType.DMS): [
        {"external_id": "RO-1", "phone": "13800000001", "event_date": "2025-11-03", "amount": "1280"},
    ],
    ("picc", SourceType.INSURANCE): [
        {
            "external_id": "P-1",
            "phone": "13800000001",
            "event_date": "2026-02-20",
            "expires_on": "2027-02-20",
            "amount": "4200",
        },
        {
            "external_id": "P-0",
            "phone": "13800000001",
            "event_date": "2025-03-21",
            "expires_on": "2026-03-20",
            "amount": "3900",
        },
    ],
    ("wecom", SourceType.WECOM): [
        {"external_id": "W-1", "phone": "13800000001", "event_date": "2026-01-05", "note": "咨询保养套餐"},
    ],
}


@pytest.fixture
def timeline(session: Session, world: World, frozen_clock: datetime) -> str:
    """cust_a1: the world's own events (created, vehicle, lead), a case, and three source events."""
    customer_id = world.customers["cust_a1"]
    for (name, type_), rows in SOURCE_ROWS.items():
        source = service.register_source(
            session, SYSTEM, data=SourceCreate(name=name, type=type_, trust_rank=60)
        )
        service.import_batch(session, SYSTEM, source, profile=None, records=rows)
    session.execute(update(SourceRecord).values(customer_id=customer_id))
    project_source_events(session)
    add_timeline(session, customer_id=customer_id, kind="case.opened", summary="客诉：异响")
    session.commit()
    return customer_id


def _items(client: TestClient, customer_id: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/customers/{customer_id}/timeline", params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _kinds(items: list[dict[str, Any]]) -> list[str]:
    return [item["kind"] for item in items]


def test_the_timeline_is_chronological_across_sources(client_for: ClientFor, timeline: str) -> None:
    items = _items(client_for("sc_a1"), timeline)
    times = [item["at"] for item in items]
    assert times == sorted(times, reverse=True)
    # Imported today, yet each source event sits on the day it happened (China midnight, in UTC).
    at = {item["kind"]: item["at"] for item in reversed(items)}  # the newest of each kind
    assert at["service_visit"].startswith("2025-11-02T16:00:00")
    assert at["insurance_policy"].startswith("2026-02-19T16:00:00")
    assert _kinds(items).index("case.opened") < _kinds(items).index("insurance_policy")


def test_pages_follow_the_same_order_without_gaps_or_repeats(client_for: ClientFor, timeline: str) -> None:
    client = client_for("sc_a1")
    everything = [item["id"] for item in _items(client, timeline)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get(f"/api/v1/customers/{timeline}/timeline", params=params).json()
        seen += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == everything and len(everything) >= 6


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["service"], {"service_visit"}),
        (["insurance"], {"insurance_policy"}),
        (["wecom"], {"wecom_interaction"}),
        (["cases"], {"case.opened"}),
        (["service", "insurance"], {"service_visit", "insurance_policy"}),
    ],
)
def test_kind_groups_filter(
    client_for: ClientFor, timeline: str, groups: list[str], expected: set[str]
) -> None:
    assert set(_kinds(_items(client_for("sc_a1"), timeline, group=groups))) == expected


def test_sales_holds_leads_and_cars_and_other_holds_the_rest(client_for: ClientFor, timeline: str) -> None:
    client = client_for("sc_a1")
    sales = set(_kinds(_items(client, timeline, group="sales")))
    assert sales and all(kind.startswith(("lead.", "vehicle.")) or kind == "purchase" for kind in sales)
    other = set(_kinds(_items(client, timeline, group="other")))
    assert "customer.created" in other
    assert not other & (sales | {"case.opened", "service_visit", "insurance_policy", "wecom_interaction"})
    every = set(_kinds(_items(client, timeline)))
    assert sales | other | {"case.opened", "service_visit", "insurance_policy", "wecom_interaction"} == every


def test_the_source_filter_names_a_system_or_drivetrain_itself(client_for: ClientFor, timeline: str) -> None:
    client = client_for("sc_a1")
    picc = _items(client, timeline, source="picc")
    assert _kinds(picc) == ["insurance_policy", "insurance_policy"]
    assert [item["detail"]["expires_on"] for item in picc] == ["2027-02-20", "2026-03-20"]
    assert {item["detail"]["source"] for item in picc} == {"picc"}
    own = _kinds(_items(client, timeline, source="_drivetrain"))
    assert "case.opened" in own and "customer.created" in own
    assert not {"service_visit", "insurance_policy", "wecom_interaction"} & set(own)
    assert _items(client, timeline, source="no-such-system") == []


def test_a_day_range_includes_both_china_days(client_for: ClientFor, timeline: str) -> None:
    client = client_for("sc_a1")
    assert _kinds(_items(client, timeline, since="2025-11-03", until="2025-11-03")) == ["service_visit"]
    assert _items(client, timeline, since="2025-11-04", until="2025-12-31") == []
    window = _kinds(_items(client, timeline, since="2025-11-01", until="2026-02-20"))
    assert window == ["insurance_policy", "wecom_interaction", "service_visit"]
    since = _kinds(_items(client, timeline, since="2026-01-01", group=["wecom", "insurance"]))
    assert since == ["insurance_policy", "wecom_interaction"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "until"),
        ({"until": "9999-12-31"}, "until"),
        ({"since": "0001-01-01"}, "since"),
        ({"group": "parking"}, "group"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    client_for: ClientFor, timeline: str, params: dict[str, str], field: str
) -> None:
    answer = client_for("sc_a1").get(f"/api/v1/customers/{timeline}/timeline", params=params)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_out_of_scope_customers_timeline_is_404(client_for: ClientFor, timeline: str) -> None:
    answer = client_for("sc_b1").get(f"/api/v1/customers/{timeline}/timeline", params={"group": "service"})
    assert answer.status_code == 404


# ---------------------------------------------------------------- the console page


def test_the_page_shows_filters_sources_and_the_policy_expiry(console: SignIn, timeline: str) -> None:
    page = console("sc_a1").get(f"/customers/{timeline}")
    assert page.status_code == 200
    html = page.text
    assert 'hx-target="#timeline-events"' in html and 'name="group"' in html and 'type="date"' in html
    for name in ("dms-hz", "picc", "wecom"):
        assert f'<option value="{name}"' in html  # the customer's sources, to filter by
    assert "保养 · dms-hz · ¥1,280" in html
    assert "保险到期 2027-02-20" in html
    # Today is 2026-03-02 (China): the policy running out on 03-20 is flagged for renewal, next year's not.
    assert html.count("30天内到期") == 1
    flagged = html.split("30天内到期")[0].rsplit("<li", 1)[1]
    assert "保险到期 2026-03-20" in flagged


def test_a_filter_change_re_renders_only_the_timeline(console: SignIn, timeline: str) -> None:
    headers = {"HX-Request": "true", "HX-Target": "timeline-events"}
    answer = console("sc_a1").get(
        f"/customers/{timeline}?group=insurance&source=&since=&until=", headers=headers
    )
    assert answer.status_code == 200
    fragment = answer.text
    assert "<html" not in fragment and 'name="group"' not in fragment
    assert fragment.count('data-kind="insurance_policy"') == fragment.count("data-kind=") == 2


def test_the_page_opens_with_filters_from_its_address(console: SignIn, timeline: str) -> None:
    html = console("sc_a1").get(f"/customers/{timeline}?source=wecom&since=2026-01-01").text
    assert '<option value="wecom" selected>' in html
    assert html.count("data-kind=") == 1 and 'data-kind="wecom_interaction"' in html


def test_a_bad_date_in_the_address_is_explained(console: SignIn, timeline: str) -> None:
    answer = console("sc_a1").get(f"/customers/{timeline}?since=2026-02-30")
    assert answer.status_code == 422
    assert "筛选条件有误" in answer.text and "since" in answer.text


def test_the_console_pages_through_the_filtered_timeline(
    console: SignIn, timeline: str, session: Session
) -> None:
    customer_id = timeline
    for n in range(55):
        add_timeline(session, customer_id=customer_id, kind="case.note", summary=f"跟进 {n}")
    session.commit()
    client = console("sc_a1")
    headers = {"HX-Request": "true", "HX-Target": "timeline-events"}
    first = client.get(f"/customers/{customer_id}?group=cases", headers=headers).text
    assert first.count("data-kind=") == 50 and "cursor=" in first
    link = first.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "group=cases" in link
    second = client.get(link, headers=headers).text
    assert second.count("data-kind=") == 6  # 55 notes and the opened case
