"""First-contact SLA: the clock moves, the worker breaches and reassigns exactly once, and catches up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.subject import AuthSubject
from drivetrain.db import Database, unit_of_work
from drivetrain.jobs.models import Event
from drivetrain.jobs.worker import Worker
from drivetrain.kit import clock
from drivetrain.leads import service
from drivetrain.leads.capture import capture
from drivetrain.leads.models import Lead, LeadHistory
from drivetrain.leads.schemas import LeadCreate, StageChange
from drivetrain.leads.tasks import sweep_first_contact
from tests.conftest import run_workers_at_once
from tests.world import World

MONDAY_0900_SHANGHAI = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _capture(session: Session, subject: AuthSubject, n: int = 0) -> Lead:
    data = LeadCreate(
        name=f"客户{n}",
        phone=f"1370000{n:04d}",
        address="浙江省杭州市滨江区江南大道100号",
        series="锐界",
        channel="ad",
    )  # type: ignore[arg-type]
    lead = capture(session, subject, data=data).lead
    session.commit()
    return lead


@pytest.fixture
def monday(db: Database) -> Iterator[datetime]:
    clock.freeze(MONDAY_0900_SHANGHAI)
    yield MONDAY_0900_SHANGHAI
    clock.unfreeze()


def _sweep(db: Database, worker_id: str = "w1") -> int:
    return sweep_first_contact(db, worker_id)


def test_breach_reassigns_then_reaches_the_store_manager(
    db: Database, session: Session, world: World, monday
) -> None:
    lead = _capture(session, world.subject("integration"))
    first = lead.consultant_id
    assert lead.first_contact_due_at == monday + timedelta(minutes=15)
    clock.advance(timedelta(minutes=14, seconds=59))
    assert _sweep(db) == 0
    clock.advance(timedelta(seconds=2))
    assert _sweep(db) == 1
    session.expire_all()
    lead = session.get(Lead, lead.id)
    assert lead is not None and lead.consultant_id not in (first, None) and lead.sla_breaches == 1
    assert lead.first_contact_due_at == clock.now() + timedelta(minutes=15)
    manager_events = session.scalars(
        select(Event).where(Event.type == "lead.sla_breached", Event.recipient_id == world.users["sm_a1"].id)
    ).all()
    assert len(manager_events) == 1
    clock.advance(timedelta(minutes=16))
    assert _sweep(db) == 1
    session.expire_all()
    lead = session.get(Lead, lead.id)
    assert lead is not None and lead.consultant_id == world.users["sm_a1"].id and lead.sla_breaches == 2


def test_first_contact_stops_the_clock(db: Database, session: Session, world: World, monday) -> None:
    lead = _capture(session, world.subject("integration"))
    holder = session.get(Lead, lead.id)
    assert holder is not None and holder.consultant_id
    consultant = next(u for u in world.users.values() if u.id == holder.consultant_id)
    service.change_stage(
        session, world.subject(consultant.username), holder, data=StageChange(stage="contacted")
    )  # type: ignore[arg-type]
    session.commit()
    clock.advance(timedelta(hours=3))
    assert _sweep(db) == 0


def test_due_time_honours_working_hours(db: Database, session: Session, world: World) -> None:
    clock.freeze(datetime(2026, 3, 2, 9, 50, tzinfo=UTC))  # 17:50 in Shanghai, the store closes at 18:00
    try:
        lead = _capture(session, world.subject("integration"))
        assert lead.first_contact_due_at == datetime(2026, 3, 3, 0, 35, tzinfo=UTC)  # 08:35 next morning
    finally:
        clock.unfreeze()


def test_seconds_level_sla_setting(db: Database, session: Session, world: World, monday) -> None:
    service.update_settings(
        session, world.subject("hq_ops"), data=service.LeadSettingsUpdate(first_contact_seconds=30)
    )
    session.commit()
    lead = _capture(session, world.subject("integration"))
    assert lead.first_contact_due_at == monday + timedelta(seconds=30)


def test_two_workers_in_turn_act_once(db: Database, session: Session, world: World, monday) -> None:
    lead = _capture(session, world.subject("integration"))
    clock.advance(timedelta(minutes=20))
    assert _sweep(db, "worker-a") + _sweep(db, "worker-b") == 1
    breaches = session.scalar(
        select(func.count())
        .select_from(LeadHistory)
        .where(LeadHistory.lead_id == lead.id, LeadHistory.kind == "breach")
    )
    assert breaches == 1


def test_restarted_worker_catches_up_oldest_first(
    db: Database, session: Session, world: World, monday
) -> None:
    leads = []
    for n in range(3):
        leads.append(_capture(session, world.subject("integration"), n))
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(hours=1))  # the worker was down for an hour
    assert Worker(db=db, sweepers=[sweep_first_contact]).run_until_idle() >= 3
    session.expire_all()
    breached_at = [
        session.scalar(
            select(LeadHistory.id).where(LeadHistory.lead_id == lead.id, LeadHistory.kind == "breach")
        )
        for lead in leads
    ]
    assert all(breached_at) and breached_at == sorted(breached_at)  # ids are time-ordered: oldest due first


def test_two_concurrent_workers_never_double_act(committed_db: Database) -> None:
    clock.freeze(MONDAY_0900_SHANGHAI)
    try:
        from tests.world import load_world

        with unit_of_work(committed_db) as session:
            world = load_world(session)
            subject = world.subject("integration")
            ids = [
                capture(
                    session,
                    subject,
                    data=LeadCreate(
                        name=f"客户{n}",
                        phone=f"1371111{n:04d}",
                        address="浙江省杭州市滨江区江南大道100号",
                        series="锐界",
                        channel="ad",
                    ),
                ).lead.id
                for n in range(40)
            ]  # type: ignore[arg-type]
        clock.advance(timedelta(minutes=30))
        acted = run_workers_at_once(committed_db, sweep_first_contact)
        with committed_db.session(write=False) as session:
            breaches = dict(
                session.execute(
                    select(LeadHistory.lead_id, func.count())
                    .where(LeadHistory.kind == "breach")
                    .group_by(LeadHistory.lead_id)
                ).all()
            )
            counts = dict(session.execute(select(Lead.id, Lead.sla_breaches).where(Lead.id.in_(ids))).all())
        assert sum(acted) == 40
        assert breaches == dict.fromkeys(ids, 1)
        assert counts == dict.fromkeys(ids, 1)
    finally:
        clock.unfreeze()
