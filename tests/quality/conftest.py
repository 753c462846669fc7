"""Quality tests: cars of one series complaining through real intake, on a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.cases import service as case_service
from drivetrain.cases.models import Case
from drivetrain.cases.schemas import CaseCreate
from drivetrain.customers import service as customers
from drivetrain.customers.schemas import VehicleCreate
from drivetrain.db import Database
from drivetrain.kit import clock
from drivetrain.org import directory
from tests.world import World, vin_for

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
SERIES = "福克斯"
BRAKE_NOISE = [
    "踩刹车的时候前轮有咯吱咯吱的异响，刚提车一个月",
    "低速踩刹车有异响，吱吱的声音，很不满意",
    "每次刹车都咔咔响，心里发毛",
    "倒车时轻踩刹车盘有异响，非常刺耳",
    "刹车的时候有响声，去店里检查说没问题",
]
Cars = Callable[..., list[str]]
Complain = Callable[..., Case]


@pytest.fixture(autouse=True)
def fresh_directory() -> Iterator[None]:
    directory.invalidate()
    yield
    directory.invalidate()


@pytest.fixture
def now(db: Database) -> Iterator[datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


@pytest.fixture
def cars(session: Session) -> Cars:
    """``cars(5)``: that many new cars of a series (HQ-registered, no owner); their VINs."""
    made = [0]

    def make(count: int, *, series: str = SERIES) -> list[str]:
        vins = []
        for _ in range(count):
            made[0] += 1
            vin = vin_for(3000 + made[0])
            customers.register_vehicle(session, SYSTEM, data=VehicleCreate(vin=vin, series=series))
            vins.append(vin)
        session.commit()
        return vins

    return make


@pytest.fixture
def complain(session: Session, world: World, now: datetime) -> Complain:
    """``complain(vin, days_ago=3)``: the owner called the hotline about their car, that long before the
    clock's now, at that dealer; the clock is left where it was."""
    said = [0]

    def file(vin: str, *, days_ago: float = 1, dealer: str = "A1", text: str | None = None) -> Case:
        said[0] += 1
        current = clock.now()
        clock.freeze(current - timedelta(days=days_ago))
        try:
            data = CaseCreate(
                description=text or BRAKE_NOISE[said[0] % len(BRAKE_NOISE)],
                vin=vin,
                dealer_code=dealer,
                channel="hotline",  # type: ignore[arg-type]
            )
            case = case_service.open_case(session, world.subject("hq_ops"), data=data)
            session.commit()
        finally:
            clock.freeze(current)
        return case

    return file
