"""The quality API and console page on a moved clock: clusters and trend in scope, alerts for HQ only,
the affected VINs with their cases, triage with a note; dealer-side managers see their own clusters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.deps import SESSION_COOKIE
from drivetrain.quality.service import refresh_alerts
from tests.quality.conftest import SERIES, Cars, Complain
from tests.world import World

BRAKES = ("brakes", "异响")


@pytest.fixture
def spread(session: Session, cars: Cars, complain: Complain, now: datetime) -> dict[str, list[str]]:
    """Brake noise on six cars: four at A1 (one of them calls twice), two at B1; one alert raised."""
    vins = cars(6)
    for days_ago, vin in enumerate(vins[:4], start=1):
        complain(vin, days_ago=days_ago, dealer="A1")
    complain(vins[0], days_ago=0.5, dealer="A1")
    for days_ago, vin in enumerate(vins[4:], start=5):
        complain(vin, days_ago=days_ago, dealer="B1")
    refresh_alerts(session, now=now)
    session.commit()
    return {"A1": vins[:4], "B1": vins[4:]}


def _cluster(body: dict[str, Any]) -> dict[str, Any]:
    (found,) = [c for c in body["items"] if (c["series"], c["component"], c["symptom"]) == (SERIES, *BRAKES)]
    return found


def test_clusters_count_cars_in_scope(client_for, spread: dict[str, list[str]]) -> None:
    everything = client_for("quality").get("/api/v1/quality/clusters")
    assert everything.status_code == 200, everything.text
    cluster = _cluster(everything.json())
    assert (cluster["distinct_vins"], cluster["cases"], cluster["emerging"]) == (6, 7, True)
    assert everything.json()["window_days"] == 14
    store = _cluster(client_for("sm_a1").get("/api/v1/quality/clusters").json())
    assert (store["distinct_vins"], store["cases"]) == (4, 5)  # A1's cases only
    assert _cluster(client_for("region_east").get("/api/v1/quality/clusters").json())["distinct_vins"] == 4
    assert client_for("sm_a2").get("/api/v1/quality/clusters").json()["items"] == []
    assert client_for("sc_a1").get("/api/v1/quality/clusters").status_code == 403
    one_day = client_for("quality").get("/api/v1/quality/clusters", params={"days": 1, "series": SERIES})
    assert _cluster(one_day.json())["distinct_vins"] == 1  # the car that called again half a day ago


def test_affected_vins_of_a_cluster_in_scope(client_for, spread: dict[str, list[str]]) -> None:
    params = {"series": SERIES, "component": "brakes", "symptom": "异响"}
    hq = client_for("quality").get("/api/v1/quality/clusters/vehicles", params=params).json()
    assert sorted(v["vin"] for v in hq["vehicles"]) == sorted(spread["A1"] + spread["B1"])
    twice = next(v for v in hq["vehicles"] if v["vin"] == spread["A1"][0])
    assert len(twice["cases"]) == 2 and twice["cases"][0]["dealer_code"] == "A1"
    store = client_for("sm_b1").get("/api/v1/quality/clusters/vehicles", params=params).json()
    assert sorted(v["vin"] for v in store["vehicles"]) == sorted(spread["B1"])


def test_alerts_are_for_hq_with_the_affected_vins(client_for, spread: dict[str, list[str]]) -> None:
    quality = client_for("quality")
    (alert,) = quality.get("/api/v1/quality/alerts").json()
    assert (alert["series"], alert["component"], alert["symptom"], alert["status"]) == (
        SERIES,
        *BRAKES,
        "open",
    )
    detail = quality.get(f"/api/v1/quality/alerts/{alert['id']}").json()
    assert detail["distinct_vins"] == 6
    assert sorted(v["vin"] for v in detail["vehicles"]) == sorted(spread["A1"] + spread["B1"])
    assert all(c["id"] for v in detail["vehicles"] for c in v["cases"])
    assert client_for("ceo").get("/api/v1/quality/alerts").json() == [alert]
    assert quality.get("/api/v1/quality/alerts", params={"status": "closed"}).json() == []
    for dealer_side in ("sm_a1", "region_east", "group_g1"):
        api = client_for(dealer_side)
        assert api.get("/api/v1/quality/alerts").json() == []
        assert api.get(f"/api/v1/quality/alerts/{alert['id']}").status_code == 404
        ack = api.post(f"/api/v1/quality/alerts/{alert['id']}/acknowledge", json={"note": "收到"})
        assert ack.status_code == 403  # no quality:triage: refused at the gate, before any alert is read


def test_acknowledge_and_close_with_a_note(client_for, spread: dict[str, list[str]]) -> None:
    quality = client_for("quality")
    (alert,) = quality.get("/api/v1/quality/alerts").json()
    path = f"/api/v1/quality/alerts/{alert['id']}"
    assert client_for("hq_ops").post(f"{path}/acknowledge", json={"note": "看看"}).status_code == 403
    empty = quality.post(f"{path}/acknowledge", json={"note": "  "})
    assert empty.status_code == 422 and empty.headers["content-type"].startswith("application/problem+json")
    assert quality.get(path).json()["status"] == "open"
    ack = quality.post(f"{path}/acknowledge", json={"note": "已转制动系统工程师分析"})
    assert ack.status_code == 200, ack.text
    assert (ack.json()["status"], ack.json()["acknowledged_by"]) == ("acknowledged", "quality")
    closed = quality.post(f"{path}/close", json={"note": "刹车片批次问题，已发布技术通报"})
    assert closed.json()["status"] == "closed" and closed.json()["note"] == "刹车片批次问题，已发布技术通报"
    assert quality.post(f"{path}/close", json={"note": "再关一次"}).status_code == 409


def test_components_by_series_and_weekly_trend(
    client_for, spread: dict[str, list[str]], complain: Complain, now: datetime
) -> None:
    quality = client_for("quality")
    rows = quality.get("/api/v1/quality/components").json()["items"]
    assert {"series": SERIES, "component": "brakes", "distinct_vins": 6} in rows
    complain(spread["B1"][0], days_ago=0.1, dealer="B1")  # this morning; everything else was last week
    trend = quality.get("/api/v1/quality/trend", params={"weeks": 2, "series": SERIES}).json()
    assert trend["weeks"] == [
        "2026-03-09",
        "2026-03-16",
    ]  # Mondays: now is Monday 16 March, 10:00 in Shanghai
    assert trend["lines"] == [{"component": "brakes", "distinct_vins": [6, 1]}]
    store = client_for("sm_a1").get("/api/v1/quality/trend").json()
    assert len(store["weeks"]) == 12 and store["lines"][0]["distinct_vins"][-2:] == [4, 0]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/quality/clusters", {"series": "不存在"}, "series"),
        ("/api/v1/quality/clusters", {"days": 0}, "days"),
        ("/api/v1/quality/clusters/vehicles", {"series": SERIES, "component": "staff_attitude"}, "component"),
        ("/api/v1/quality/trend", {"weeks": 53}, "weeks"),
    ],
)
def test_bad_input_is_named(client_for, path: str, params: dict[str, Any], field: str, now: datetime) -> None:
    answer = client_for("quality").get(path, params=params)
    assert answer.status_code == 422 and field in answer.text


def _console(session: Session, world: World, username: str) -> TestClient:
    from drivetrain.app import create_app

    cookie, _ = auth_service.open_console_session(session, world.users[username])
    session.commit()
    client = TestClient(create_app(), follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def test_dashboard_shows_alerts_charts_and_the_chosen_alerts_vins(
    session: Session, world: World, client_for, spread: dict[str, list[str]]
) -> None:
    (alert,) = client_for("quality").get("/api/v1/quality/alerts").json()
    page = _console(session, world, "quality")
    html = page.get("/quality").text
    assert (
        f'data-alert="{alert["id"]}"' in html
        and 'id="chart-components"' in html
        and 'id="chart-trend"' in html
    )
    assert 'href="/quality"' in html  # in the navigation
    chosen = page.get("/quality", params={"alert": alert["id"]})
    assert chosen.status_code == 200
    for vin in spread["A1"] + spread["B1"]:
        assert f'data-vin="{vin}"' in chosen.text
    assert chosen.text.count('href="/cases/') == 7
    page.cookies.set("dt_lang", "en")
    english = page.get("/quality", params={"alert": alert["id"]}).text
    assert "Emerging-issue alerts" in english and "Brakes · Abnormal noise" in english
    assert "quality." not in english.replace("/static/css/quality.css", "").replace(
        "/static/js/quality.js", ""
    )
    store = _console(session, world, "sm_b1")
    mine = store.get("/quality", params={"series": SERIES, "component": "brakes", "symptom": "异响"})
    assert mine.status_code == 200 and 'id="alerts"' not in mine.text
    assert all(f'data-vin="{vin}"' in mine.text for vin in spread["B1"])
    assert not any(f'data-vin="{vin}"' in mine.text for vin in spread["A1"])
    assert store.get("/quality", params={"alert": alert["id"]}).status_code == 404
    assert _console(session, world, "sc_a1").get("/quality").status_code == 403


def test_dashboard_triage_form(
    session: Session, world: World, client_for, spread: dict[str, list[str]]
) -> None:
    (alert,) = client_for("quality").get("/api/v1/quality/alerts").json()
    page = _console(session, world, "quality")
    html = page.get("/quality", params={"alert": alert["id"]}).text
    token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    empty = page.post(f"/quality/alerts/{alert['id']}/acknowledge", data={"csrf_token": token, "note": " "})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
    done = page.post(
        f"/quality/alerts/{alert['id']}/acknowledge", data={"csrf_token": token, "note": "已认领"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/quality?alert={alert['id']}#vins"
    stale = page.post(f"/quality/alerts/{alert['id']}/close", data={"csrf_token": "nope", "note": "关闭"})
    assert stale.status_code == 403
    assert (
        client_for("quality").get(f"/api/v1/quality/alerts/{alert['id']}").json()["status"] == "acknowledged"
    )


def test_the_dashboard_lists_the_largest_clusters_and_keeps_the_tail_behind_a_click(
    session: Session,
    world: World,
    cars: Cars,
    complain: Complain,
    spread: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (vin,) = cars(1)
    complain(vin, text="空调不制冷,开了半小时还是热风")  # a one-car cluster beside the brake noise
    monkeypatch.setattr("drivetrain.quality.views.SHOWN_CLUSTERS", 1)
    html = _console(session, world, "quality").get("/quality").text
    clusters = html[html.index('id="clusters"') :]
    listed, tail = clusters.split('<details class="more-clusters">')
    assert listed.count("<tr ") == 1 and "6</td>" in listed  # the brake noise on six cars comes first
    assert tail.count("<tr ") >= 1 and "显示其余" in tail
