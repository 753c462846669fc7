"""The quality dashboard in a real browser: eight cars of one series complain about brake noise through
real intake, the refresh raises an alert, and the quality engineer sees the charts drawn and the VINs."""

from __future__ import annotations

from typing import Any

import pytest

from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.subject import SYSTEM
from drivetrain.cases import service as case_service
from drivetrain.cases.schemas import CaseCreate
from drivetrain.customers import service as customers
from drivetrain.customers.schemas import VehicleCreate
from drivetrain.db import open_database, unit_of_work
from drivetrain.kit import clock
from drivetrain.quality.service import refresh_alerts
from tests.e2e.conftest import ARTIFACTS, LiveServer
from tests.world import PASSWORD, vin_for

pytestmark = pytest.mark.e2e
SERIES = "蒙迪欧"
COMPLAINTS = [
    "踩刹车的时候前轮有咯吱咯吱的异响，刚提车一个月",
    "低速踩刹车有异响，吱吱的声音，很不满意",
    "每次刹车都咔咔响，心里发毛",
    "倒车时轻踩刹车盘有异响，非常刺耳",
]


def _seed_emerging_cluster(server: LiveServer, count: int) -> list[str]:
    """New cars of one series, each owner calling about brake noise, then one refresh; their VINs."""
    vins = [vin_for(8000 + n) for n in range(count)]
    db = open_database(server.database_url)
    try:
        with unit_of_work(db) as session:
            user = session.query(User).filter_by(username="hq_ops").one()
            hq = auth_service.subject_for(user, via="api")
            for n, vin in enumerate(vins):
                customers.register_vehicle(session, SYSTEM, data=VehicleCreate(vin=vin, series=SERIES))
                data = CaseCreate(
                    description=COMPLAINTS[n % len(COMPLAINTS)],
                    vin=vin,
                    dealer_code="A1" if n % 2 else "B1",
                    channel="hotline",  # type: ignore[arg-type]
                )
                case_service.open_case(session, hq, data=data)
        with unit_of_work(db) as session:
            refresh_alerts(session, now=clock.now())
    finally:
        db.dispose()
    return vins


def test_quality_engineer_sees_charts_and_the_affected_vins(live_server: LiveServer, browser: Any) -> None:
    vins = _seed_emerging_cluster(live_server, 8)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.base}/login?next=/quality")
    page.fill("input[name=username]", "quality")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.base}/quality")
    page.locator("#chart-components svg").first.wait_for()
    page.locator("#chart-trend svg").first.wait_for()
    assert "蒙迪欧" in page.locator("#chart-components").inner_text()  # the series is an axis label
    alert_row = page.locator("#alerts tr[data-alert]", has_text=SERIES)
    assert "8" in alert_row.inner_text() and "待处理" in alert_row.inner_text()
    alert_row.locator("a").click()
    page.wait_for_url(f"{live_server.base}/quality?*")
    listed = page.locator("#vins tr[data-vin]")
    listed.first.wait_for()
    assert sorted(listed.evaluate_all("rows => rows.map(r => r.dataset.vin)")) == sorted(vins)
    assert page.locator('#vins a[href^="/cases/"]').count() == 8
    page.locator("#chart-trend svg").first.wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quality_dashboard.png"), full_page=True)
    context.close()


def test_dashboard_fits_a_phone(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.base}/login?next=/quality")
    page.fill("input[name=username]", "quality")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.base}/quality")
    page.locator("#chart-trend svg, #chart-trend.chart-empty").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "quality_dashboard_phone.png"), full_page=True)
    context.close()
