"""Alerts raised from real cases with a moved clock: raise, count cars not calls, respect the baseline,
refresh idempotently, keep numbers current, reopen a closed alert only on new cases; and the worker job."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.db import Database
from drivetrain.jobs.models import Event, OutboxMessage
from drivetrain.jobs.worker import Worker
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput
from drivetrain.org.models import Series
from drivetrain.quality import service
from drivetrain.quality.models import DefectAlert
from drivetrain.quality.service import RefreshResult, refresh_alerts
from drivetrain.quality.tasks import alert_refresh
from tests.quality.conftest import SERIES, Cars, Complain
from tests.world import World


def _alerts(session: Session) -> list[DefectAlert]:
    session.expire_all()
    return list(session.scalars(select(DefectAlert).order_by(DefectAlert.id)))


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def _refresh(session: Session, now: datetime) -> RefreshResult:
    result = refresh_alerts(session, now=now)
    session.commit()
    return result


def test_five_cars_with_brake_noise_raise_one_alert(
    session: Session, world: World, cars: Cars, complain: Complain, now: datetime
) -> None:
    for days_ago, vin in enumerate(cars(5), start=1):
        complain(vin, days_ago=days_ago)
    complain(cars(1)[0], days_ago=2, text="销售顾问态度很差，很不满意")  # no product case: no cluster
    assert _refresh(session, now) == RefreshResult(raised=1)
    (alert,) = _alerts(session)
    focus = session.scalar(select(Series.id).where(Series.name == SERIES))
    assert (alert.series_id, alert.component, alert.symptom, alert.status) == (
        focus,
        "brakes",
        "异响",
        "open",
    )
    assert (alert.distinct_vins, alert.window_days, alert.rate_per_day, alert.baseline_per_day) == (
        5,
        14,
        0.3571,
        0.0,
    )
    assert alert.first_raised_at == alert.last_seen_at == now
    assert (
        _count(
            session, AuditEntry, AuditEntry.action == "quality.alert.raise", AuditEntry.entity_id == alert.id
        )
        == 1
    )
    told = session.scalars(select(Event.recipient_id).where(Event.type == "quality.alert")).all()
    assert told == [world.users["quality"].id]
    (message,) = session.scalars(
        select(OutboxMessage).where(OutboxMessage.payload["alert_id"].as_string() == alert.id)
    )
    assert message.payload["to"] == ["quality"] and "福克斯 · 制动 · 异响" in message.payload["text"]


def test_the_same_car_complaining_twice_counts_once(
    session: Session, cars: Cars, complain: Complain, now: datetime
) -> None:
    vins = cars(5)
    for days_ago, vin in enumerate(vins[:4], start=1):
        complain(vin, days_ago=days_ago)
    complain(vins[0], days_ago=0.5)  # five calls, four cars
    assert _refresh(session, now) == RefreshResult()
    complain(vins[4], days_ago=0.2)
    assert _refresh(session, now) == RefreshResult(raised=1)
    assert _alerts(session)[0].distinct_vins == 5


def test_a_series_whose_baseline_was_as_high_raises_none(
    session: Session, cars: Cars, complain: Complain, now: datetime
) -> None:
    vins = cars(32)  # one car a fortnight's worth for 90 days: 32 cars …
    for n, vin in enumerate(vins):
        complain(vin, days_ago=15 + n * 2.8)
    for days_ago, vin in enumerate(vins[:5], start=1):  # … then five again in the window: no faster
        complain(vin, days_ago=days_ago)
    assert _refresh(session, now) == RefreshResult()
    assert _alerts(session) == []


def test_cases_older_than_the_window_raise_nothing(
    session: Session, cars: Cars, complain: Complain, now: datetime
) -> None:
    for vin in cars(5):
        complain(vin, days_ago=14.5)
    assert _refresh(session, now) == RefreshResult()


def test_refreshing_again_changes_nothing(
    session: Session, cars: Cars, complain: Complain, now: datetime
) -> None:
    for days_ago, vin in enumerate(cars(5), start=1):
        complain(vin, days_ago=days_ago)
    _refresh(session, now)
    before = [(a.id, a.status, a.distinct_vins, a.rate_per_day, a.last_seen_at) for a in _alerts(session)]
    rows = (_count(session, AuditEntry), _count(session, Event), _count(session, OutboxMessage))
    assert _refresh(session, now) == RefreshResult()
    after = [(a.id, a.status, a.distinct_vins, a.rate_per_day, a.last_seen_at) for a in _alerts(session)]
    assert after == before
    assert (_count(session, AuditEntry), _count(session, Event), _count(session, OutboxMessage)) == rows
    later = now + timedelta(hours=1)
    assert _refresh(session, later) == RefreshResult()  # still emerging, same cars: only seen again
    assert _alerts(session)[0].last_seen_at == later
    assert _count(session, AuditEntry) == rows[0]


def test_a_live_alert_follows_the_numbers_and_keeps_its_triage(
    session: Session, world: World, cars: Cars, complain: Complain, now: datetime
) -> None:
    vins = cars(6)
    for days_ago, vin in enumerate(vins[:5], start=1):
        complain(vin, days_ago=days_ago)
    _refresh(session, now)
    service.acknowledge(session, world.subject("quality"), _alerts(session)[0], note="已联系供应商分析刹车片")
    session.commit()
    complain(vins[5], days_ago=0.1)
    assert _refresh(session, now) == RefreshResult(updated=1)
    (alert,) = _alerts(session)
    assert (alert.status, alert.distinct_vins, alert.note) == ("acknowledged", 6, "已联系供应商分析刹车片")
    assert alert.acknowledged_by_id == world.users["quality"].id
    update = session.scalar(select(AuditEntry).where(AuditEntry.action == "quality.alert.update"))
    assert update is not None and update.changes["distinct_vins"] == [5, 6] and update.via == "worker"


def test_a_closed_alert_reopens_only_when_new_cases_come(
    session: Session, world: World, cars: Cars, complain: Complain, now: datetime
) -> None:
    vins = cars(6)
    for days_ago, vin in enumerate(vins[:5], start=1):
        complain(vin, days_ago=days_ago)
    _refresh(session, now)
    clock.advance(timedelta(hours=2))
    service.close(
        session, world.subject("quality"), _alerts(session)[0], note="刹车片批次问题，已发布技术通报"
    )
    session.commit()
    assert (
        _refresh(session, clock.now()) == RefreshResult()
    )  # still emerging, but nothing new since the close
    assert _alerts(session)[0].status == "closed"
    clock.advance(timedelta(hours=1))
    complain(vins[5], days_ago=0)
    events_before = _count(session, Event, Event.type == "quality.alert")
    assert _refresh(session, clock.now()) == RefreshResult(reopened=1)
    (alert,) = _alerts(session)
    assert (alert.status, alert.distinct_vins, alert.first_raised_at) == ("open", 6, now)
    assert _count(session, AuditEntry, AuditEntry.action == "quality.alert.reopen") == 1
    assert _count(session, Event, Event.type == "quality.alert") == events_before + 1


def test_triage_needs_a_note_and_an_open_alert(
    session: Session, world: World, cars: Cars, complain: Complain, now: datetime
) -> None:
    for days_ago, vin in enumerate(cars(5), start=1):
        complain(vin, days_ago=days_ago)
    _refresh(session, now)
    alert = _alerts(session)[0]
    with pytest.raises(InvalidInput):
        service.close(session, world.subject("quality"), alert, note="   ")
    assert _alerts(session)[0].status == "open"
    service.close(session, world.subject("quality"), alert, note="误报")
    session.commit()
    with pytest.raises(Conflict):
        service.acknowledge(session, world.subject("quality"), _alerts(session)[0], note="再看看")
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == alert.id)).all()
    assert sorted(actions) == ["quality.alert.close", "quality.alert.raise"]


def test_the_worker_recounts_every_few_minutes(
    db: Database, session: Session, cars: Cars, complain: Complain, now: datetime
) -> None:
    refresh = alert_refresh(every=timedelta(minutes=5))
    worker = Worker(db=db, sweepers=[refresh])
    assert worker.run_until_idle() == 0
    for days_ago, vin in enumerate(cars(5), start=1):
        complain(vin, days_ago=days_ago)
    clock.advance(timedelta(minutes=4))
    assert worker.run_until_idle() == 0  # not due yet
    assert _alerts(session) == []
    clock.advance(timedelta(minutes=1))
    assert worker.run_until_idle() == 1
    assert len(_alerts(session)) == 1
