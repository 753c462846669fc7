"""Demo defect signals, through real case intake: one emerging cluster (one series' brakes, 异响, on eight
cars over the last week) above months of scattered product complaints; then a refresh raises its alert."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases import service as case_service
from drivetrain.cases.classify.training import COMPLAINTS_CSV
from drivetrain.cases.models import Channel
from drivetrain.cases.schemas import CaseCreate, CaseStatusChange
from drivetrain.cases.tasks import sweep_escalations
from drivetrain.customers.models import Customer, Vehicle
from drivetrain.db import Database, unit_of_work
from drivetrain.jobs.worker import Worker
from drivetrain.kit import clock
from drivetrain.org.models import Dealer, Series
from drivetrain.quality.repository import PRODUCT_COMPONENTS
from drivetrain.quality.service import DEFAULT_THRESHOLDS, refresh_alerts

BRAKE_NOISE = [
    "提车才两个月，每次低速踩刹车前轮都有咯吱咯吱的异响，去店里检查说是正常现象，不能接受",
    "早上冷车第一脚刹车就有很刺耳的异响，像金属摩擦一样，4S店说没问题",
    "刹车的时候前面有嘎吱声，倒车踩刹车更明显，已经去了两次店里都没解决",
    "最近一周刹车盘一直有异响，车才跑了五千公里，担心刹车片有质量问题",
    "下雨天刹车异响特别大，停车时整个车都能听到咔咔的声音",
    "踩刹车时方向盘附近有咯噔咯噔的响声，店里换了刹车片还是有异响",
    "新车刹车异响，等红灯慢慢停车的时候吱吱叫，邻居同款车也一样",
    "刹车片异响投诉：每次停车都咯吱响，同一批次的车友群里好多人都有这个问题",
]
FOLLOW_UP = "上周反映的刹车异响还是没解决，轻踩刹车就有异响，去4S店说要等厂家方案"
CHANNELS = (Channel.HOTLINE, Channel.WECOM, Channel.MINI_PROGRAM, Channel.APP, Channel.DEALER)
RESOLVED_NOTES = [
    "已检修并回访车主，车主认可处理结果",
    "已更换相关部件，试车正常，车主满意",
    "已升级软件版本，问题消除，已回访",
]
SETTLED_AFTER = timedelta(days=3)
"""Complaints older than this were resolved within a few days; the last days' are still being handled."""
CARS_SCANNED = 20_000


class Car(NamedTuple):
    vin: str
    series: str
    phone: str | None
    dealer_code: str


def _cars(db: Database) -> dict[str, list[Car]]:
    """Owned cars with a servicing dealer, by series name."""
    with db.session(write=False) as session:
        rows = session.execute(
            select(Vehicle.vin, Series.name, Customer.primary_phone, Dealer.code)
            .join(Series, Series.id == Vehicle.series_id)
            .join(Customer, Customer.id == Vehicle.owner_id)
            .join(Dealer, Dealer.id == Vehicle.servicing_dealer_id)
            .order_by(Vehicle.vin)
            .limit(CARS_SCANNED)
        ).all()
    by_series: dict[str, list[Car]] = defaultdict(list)
    for vin, series, phone, dealer_code in rows:
        by_series[series].append(Car(vin, series, phone, dealer_code))
    return by_series


def _product_complaints() -> list[str]:
    products = {c.value for c in PRODUCT_COMPONENTS}
    with COMPLAINTS_CSV.open(encoding="utf-8") as file:
        return [row["text"] for row in csv.DictReader(file) if row["category"] in products]


def _open(
    session: Session, hq: AuthSubject, car: Car, text: str, *, at: datetime, now: datetime, rng: random.Random
) -> None:
    """The owner's complaint at ``at``; an old one was resolved a day or three later."""
    clock.freeze(at)
    data = CaseCreate(
        description=text,
        vin=car.vin,
        phone=car.phone,
        dealer_code=car.dealer_code,
        channel=rng.choice(CHANNELS),
    )
    case = case_service.open_case(session, hq, data=data)
    if now - at > SETTLED_AFTER:
        clock.freeze(at + timedelta(hours=rng.randint(20, 72)))
        change = CaseStatusChange(status="resolved", note=rng.choice(RESOLVED_NOTES))
        case_service.change_status(session, hq, case, data=change)


def seed_defect_signals(
    db: Database, *, rng: random.Random, now: datetime, cars: int = 8, noise: int = 80
) -> str | None:
    """Brake noise on ``cars`` cars of the series with the most cars, over the last week (one owner calls
    twice), and ``noise`` product complaints on random cars over the alert window and its baseline; then
    the escalation sweep and an alert refresh as of ``now``. Returns the emerging cluster's series (None
    when there are no cars)."""
    by_series = _cars(db)
    if not by_series:
        return None
    series = max(sorted(by_series), key=lambda name: len(by_series[name]))
    hit = rng.sample(by_series[series], min(cars, len(by_series[series])))
    everyone = [car for name in sorted(by_series) for car in by_series[name]]
    texts = _product_complaints()
    history = DEFAULT_THRESHOLDS.window_days + DEFAULT_THRESHOLDS.baseline_days
    with unit_of_work(db) as session:
        operator = session.scalar(select(User).where(User.username == "ops_head"))
        assert operator is not None, "seed_world first"
        hq = auth_service.subject_for(operator, via="cli")
        try:
            for n, car in enumerate(hit):
                at = now - timedelta(hours=rng.uniform(2, 7 * 24))
                _open(session, hq, car, BRAKE_NOISE[n % len(BRAKE_NOISE)], at=at, now=now, rng=rng)
            _open(session, hq, hit[0], FOLLOW_UP, at=now - timedelta(hours=1), now=now, rng=rng)
            for _ in range(noise):
                at = now - timedelta(hours=rng.uniform(2, history * 24))
                _open(session, hq, rng.choice(everyone), rng.choice(texts), at=at, now=now, rng=rng)
        finally:
            clock.unfreeze()
    clock.freeze(now)
    try:
        Worker(db=db, sweepers=[sweep_escalations]).run_until_idle()
        with unit_of_work(db) as session:
            refresh_alerts(session, now=now)
    finally:
        clock.unfreeze()
    return series
