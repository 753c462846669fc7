"""Rule tags as HQ defines them, at the edges of their date windows, recomputed in full and incrementally;
manual tags beside them, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.auth.subject import SYSTEM
from drivetrain.customers import service as customer_service
from drivetrain.customers.models import Customer, TimelineEvent, Vehicle
from drivetrain.customers.schemas import OwnershipTransfer, VehicleCreate
from drivetrain.customers.segments import tags
from drivetrain.customers.segments import tasks as segments_tasks
from drivetrain.customers.segments.models import CustomerValue, SegmentRun
from drivetrain.customers.segments.tags import Rule
from drivetrain.customers.segments.tasks import recompute, segment_refresh
from drivetrain.db import Database, unit_of_work
from drivetrain.jobs.worker import Worker
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.org.models import Series
from tests.world import World, vin_for

NOW = datetime(2031, 6, 15, 2, 0, tzinfo=UTC)
"""10:00 in China on 2031-06-15: after the world was built (its rows must not look freshly changed)."""
TODAY = date(2031, 6, 15)
NEV = tags.TAG_NAMES[Rule.NEV_OWNER]
INSURANCE = tags.TAG_NAMES[Rule.INSURANCE_EXPIRING]
FREQUENT = tags.TAG_NAMES[Rule.FREQUENT_SERVICE]
LAPSED = tags.TAG_NAMES[Rule.LAPSED_AFTER_WARRANTY]
_serials = count(500)


@pytest.fixture
def now() -> Iterator[datetime]:
    clock.freeze(NOW)
    yield NOW
    clock.unfreeze()


def person(session: Session, name: str = "测试客户", *, dealer_id: str | None = None) -> Customer:
    customer = Customer(name=name, dealer_id=dealer_id)
    session.add(customer)
    session.flush()
    return customer


def car(
    session: Session,
    owner: Customer | None,
    *,
    series: str = "锐界",
    bought: date | None = None,
    km: int | None = None,
) -> Vehicle:
    series_id = session.scalar(select(Series.id).where(Series.name == series))
    vehicle = Vehicle(
        vin=vin_for(next(_serials)),
        series_id=series_id,
        purchase_date=bought,
        mileage_km=km,
        owner_id=owner.id if owner else None,
    )
    session.add(vehicle)
    session.flush()
    return vehicle


def event(session: Session, customer: Customer, kind: str, at: datetime, **detail: Any) -> TimelineEvent:
    """A projected source record as the timeline holds it (``amount`` yuan, ``expires_on`` ISO day)."""
    row = TimelineEvent(customer_id=customer.id, at=at, kind=kind, summary=kind, detail=detail)
    session.add(row)
    session.flush()
    return row


def tags_of(session: Session, customer: Customer) -> set[str]:
    return {name for name, _kind in tags.tags_of(session, [customer.id]).get(customer.id, [])}


def move_to(at: datetime) -> datetime:
    clock.freeze(at)
    return at


def test_nev_owner_is_battery_or_plug_in_and_follows_a_resale(session: Session, now: datetime) -> None:
    bev, phev, hev, ice, buyer = (person(session, n) for n in ("纯电", "插混", "油混", "燃油", "买家"))
    car(session, bev, series="Mustang Mach-E")
    car(session, hev, series="蒙迪欧")
    car(session, ice, series="锐界")
    sold = customer_service.register_vehicle(
        session, SYSTEM, data=VehicleCreate(vin=vin_for(next(_serials)), customer_id=phev.id, series="锐际")
    )
    recompute(session, now=now)
    assert [NEV in tags_of(session, c) for c in (bev, phev, hev, ice, buyer)] == [
        True,
        True,
        False,
        False,
        False,
    ]

    customer_service.transfer_vehicle(session, SYSTEM, sold, data=OwnershipTransfer(customer_id=buyer.id))
    result = recompute(session, now=move_to(now + timedelta(hours=1)), overlap=timedelta(0))
    assert not result.full and (result.tags_added, result.tags_removed) == (1, 1)
    assert NEV not in tags_of(session, phev) and NEV in tags_of(session, buyer)


def test_insurance_window_edges_move_with_the_clock(session: Session, now: datetime) -> None:
    inside, beyond, today, expired, renewed = (
        person(session, n) for n in ("三十天", "三十一天", "今天", "昨天", "已续保")
    )
    policy = "insurance_policy"
    event(session, inside, policy, now, expires_on=(TODAY + timedelta(days=30)).isoformat(), amount=4200.0)
    event(session, beyond, policy, now, expires_on=(TODAY + timedelta(days=31)).isoformat())
    event(session, today, policy, now, expires_on=TODAY.isoformat())
    event(session, expired, policy, now, expires_on=(TODAY - timedelta(days=1)).isoformat())
    event(
        session,
        renewed,
        policy,
        now - timedelta(days=300),
        expires_on=(TODAY + timedelta(days=10)).isoformat(),
    )
    event(session, renewed, policy, now, expires_on=(TODAY + timedelta(days=375)).isoformat())
    recompute(session, now=now)
    held = [INSURANCE in tags_of(session, c) for c in (inside, beyond, today, expired, renewed)]
    assert held == [True, False, True, False, False]

    # A day later: the 31-day policy enters the window, today's has expired. Only the window moved.
    result = recompute(session, now=move_to(now + timedelta(days=1)), overlap=timedelta(0))
    assert not result.full
    held = [INSURANCE in tags_of(session, c) for c in (inside, beyond, today, expired, renewed)]
    assert held == [True, True, False, False, False]


def test_frequent_service_counts_visits_in_the_window(session: Session, now: datetime) -> None:
    three, two = person(session, "三次"), person(session, "两次")
    for days_ago in (364, 100, 5):
        event(session, three, "service_visit", now - timedelta(days=days_ago), amount=800.0)
    for days_ago in (400, 100, 5):
        event(session, two, "service_visit", now - timedelta(days=days_ago))
    event(session, two, "purchase", now - timedelta(days=30))  # not a visit
    recompute(session, now=now)
    assert FREQUENT in tags_of(session, three) and FREQUENT not in tags_of(session, two)

    # The visit 364 days ago leaves the 365-day window two days later.
    recompute(session, now=move_to(now + timedelta(days=2)), overlap=timedelta(0))
    assert FREQUENT not in tags_of(session, three)


def test_lapsed_after_warranty_by_date_or_mileage_without_recent_visits(
    session: Session, now: datetime
) -> None:
    # Warranty 3 years, then 365 days without a visit: a car bought on 2027-06-15 qualifies on 2031-06-15.
    edge = person(session, "刚好一年")
    car(session, edge, bought=date(2027, 6, 15))
    day_short = person(session, "差一天")
    car(session, day_short, bought=date(2027, 6, 16))
    came_back = person(session, "回厂保养")
    car(session, came_back, bought=date(2020, 1, 1))
    event(session, came_back, "service_visit", now - timedelta(days=100))
    worn = person(session, "里程超保")
    car(session, worn, bought=date(2030, 1, 1), km=120_000)
    under = person(session, "保修期内")
    car(session, under, bought=date(2030, 1, 1), km=20_000)
    recompute(session, now=now)
    held = [LAPSED in tags_of(session, c) for c in (edge, day_short, came_back, worn, under)]
    assert held == [True, False, False, True, False]

    # The next day the second car's idle year after warranty is over too; a visit clears the first.
    event(session, edge, "service_visit", now + timedelta(hours=20))
    recompute(session, now=move_to(now + timedelta(days=1)), overlap=timedelta(0))
    assert LAPSED in tags_of(session, day_short) and LAPSED not in tags_of(session, edge)


def test_incremental_run_touches_only_changed_customers(session: Session, now: datetime) -> None:
    quiet, active, owner = person(session, "没变"), person(session, "新保养"), person(session, "新车主")
    event(session, quiet, "purchase", now - timedelta(days=1000), amount=150_000.0)
    event(session, active, "purchase", now - timedelta(days=1000), amount=150_000.0)
    full = recompute(session, now=now)
    assert full.full and full.customers >= 3
    before = dict(session.execute(select(CustomerValue.customer_id, CustomerValue.computed_at)).all())

    later = move_to(now + timedelta(hours=1))
    event(session, active, "service_visit", later, amount=600.0)
    car(session, owner, series="Mustang Mach-E", bought=TODAY)
    result = recompute(session, now=later, overlap=timedelta(0))

    assert not result.full and (result.customers, result.tiers_written) == (2, 2)
    after = dict(session.execute(select(CustomerValue.customer_id, CustomerValue.computed_at)).all())
    changed = {cid for cid, at in after.items() if at != before.get(cid)}
    assert changed == {active.id, owner.id}
    assert NEV in tags_of(session, owner)
    assert session.get(CustomerValue, active.id).frequency == 1  # type: ignore[union-attr]

    # Nothing changed and no window crossed: nobody is looked at.
    assert recompute(session, now=move_to(later + timedelta(minutes=5)), overlap=timedelta(0)).customers == 0


def test_a_run_over_the_same_watermark_is_skipped(session: Session, now: datetime) -> None:
    """Two workers reading the same watermark: the second one's guarded update finds it moved."""
    recompute(session, now=now)
    run = segments_tasks.last_run(session)
    assert run is not None
    stale = SegmentRun(key="x", as_of=now - timedelta(days=1), event_watermark="")
    assert not segments_tasks._advance(session, stale, {"as_of": now})


def test_merged_customers_lose_rule_tags(session: Session, now: datetime) -> None:
    kept, merged = person(session, "保留"), person(session, "被合并")
    car(session, merged, series="Mustang Mach-E")
    recompute(session, now=now)
    assert NEV in tags_of(session, merged)
    later = move_to(now + timedelta(hours=1))
    merged.merged_into_id = kept.id
    session.flush()
    recompute(session, now=later, overlap=timedelta(0))
    assert tags_of(session, merged) == set()


def test_rule_parameters_are_data_and_validated(session: Session, now: datetime) -> None:
    customer = person(session, "四十五天")
    event(session, customer, "insurance_policy", now, expires_on=(TODAY + timedelta(days=45)).isoformat())
    recompute(session, now=now)
    assert INSURANCE not in tags_of(session, customer)

    hq = SYSTEM
    tags.update_rule(session, hq, Rule.INSURANCE_EXPIRING, params={"within_days": 60}, enabled=True)
    recompute(session, now=now, full=True)
    assert INSURANCE in tags_of(session, customer)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "segments.rule")).all()
    assert audit and audit[-1].changes["params"][1] == {"within_days": 60}

    with pytest.raises(InvalidInput) as bad:
        tags.update_rule(session, hq, Rule.INSURANCE_EXPIRING, params={"within_days": 0}, enabled=True)
    assert bad.value.field == "params.within_days"

    tags.update_rule(session, hq, Rule.INSURANCE_EXPIRING, params={"within_days": 60}, enabled=False)
    recompute(session, now=now, full=True)
    assert INSURANCE not in tags_of(session, customer)


def test_manual_tags_are_audited_and_survive_recompute(session: Session, world: World, now: datetime) -> None:
    subject = world.subject("sm_a1")
    customer = session.get(Customer, world.customers["cust_a1"])
    assert customer is not None
    assert tags.add_manual_tags(session, subject, customer, ["试驾意向", "vip"]) == ["试驾意向"]
    recompute(session, now=now, full=True)
    assert {"试驾意向", "vip"} <= tags_of(session, customer)
    kinds = dict(tags.tags_of(session, [customer.id])[customer.id])
    assert kinds["试驾意向"] == "manual"

    assert tags.remove_manual_tag(session, subject, customer, "试驾意向")
    assert not tags.remove_manual_tag(session, subject, customer, "试驾意向")  # already gone
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id == customer.id, AuditEntry.action.like("customer.%tag"))
    ).all()
    assert [(e.action, e.changes["tags"]) for e in entries][-2:] == [
        ("customer.tag", [None, ["试驾意向"]]),
        ("customer.untag", ["试驾意向", None]),
    ]
    assert all(e.actor_id == world.users["sm_a1"].id for e in entries[-2:])


def test_a_rule_tag_is_never_set_or_cleared_by_hand(session: Session, world: World, now: datetime) -> None:
    subject = world.subject("hq_ops")
    customer = session.get(Customer, world.customers["cust_hq"])
    assert customer is not None
    with pytest.raises(InvalidInput) as added:
        tags.add_manual_tags(session, subject, customer, [NEV])  # refused even before the rules exist
    assert added.value.field == "tags"
    recompute(session, now=now)
    with pytest.raises(InvalidInput) as removed:
        tags.remove_manual_tag(session, subject, customer, LAPSED)
    assert removed.value.field == "tag"
    assert LAPSED in tags_of(session, customer)  # the world's 2024 cars are out of warranty by 2031


def test_worker_sweeper_recomputes_at_most_once_per_period(committed_db: Database) -> None:
    """Registered with the worker, it runs on the first pass, then waits out its period."""
    sweeper = segment_refresh(every=timedelta(minutes=10))
    clock.freeze(NOW)
    try:
        with unit_of_work(committed_db) as session:
            owner = person(session, "电车车主")
            car(session, owner, series="Mustang Mach-E")
        assert Worker(db=committed_db, sweepers=[sweeper]).run_until_idle() >= 1
        with unit_of_work(committed_db) as session:
            assert NEV in tags_of(session, owner)
        clock.advance(timedelta(minutes=5))
        assert sweeper(committed_db, "w") == 0  # not due yet
        clock.advance(timedelta(minutes=6))
        sweeper(committed_db, "w")  # due: runs (re-reading the last OVERLAP of events, harmlessly)
        with unit_of_work(committed_db) as session:
            run = segments_tasks.last_run(session)
            assert run is not None and run.as_of == NOW + timedelta(minutes=11)
            assert NEV in tags_of(session, owner)
    finally:
        clock.unfreeze()
