"""The demo's source systems: realistic rows about real demo customers that import cleanly, the same for
the same seed, and whose events reach the timeline once the records are linked."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from drivetrain.customers.models import ContactPoint, TimelineEvent
from drivetrain.demo.sources import Person, demo_rows, seed_source_records
from drivetrain.sources.events import project_source_events
from drivetrain.sources.models import SourceRecord
from tests.world import World, vin_for

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
TODAY = NOW.date()


def _people(count: int) -> list[Person]:
    return [
        Person(
            name="张伟" if n % 2 else "欧阳娜娜",
            gender="m" if n % 2 else "f",
            phone=f"+86138{n:08d}",
            vin=vin_for(n) if n % 5 else None,
            plate=f"浙A{n:05d}" if n % 5 else None,
            series="锐界" if n % 5 else None,
            bought=date(2022, 1, 1) + timedelta(days=n % 1200) if n % 5 else None,
            mileage_km=20_000 if n % 5 else None,
        )
        for n in range(1, count + 1)
    ]


def test_demo_rows_are_deterministic_and_realistic() -> None:
    people = _people(400)
    rows = demo_rows(people, rng=random.Random(3), today=TODAY)
    assert rows == demo_rows(people, rng=random.Random(3), today=TODAY)
    assert rows != demo_rows(people, rng=random.Random(4), today=TODAY)
    assert sum(map(len, rows.values())) > 1500
    names = [row["客户姓名"] for row in rows["dms-east"]]
    assert "張偉" in names and "张先生" in names and "欧阳娜娜" in names  # Traditional, salutation, as is
    assert any(" " in row["联系电话"] or row["联系电话"].startswith("+86-") for row in rows["dms-east"])
    assert {row["业务类型"] for row in rows["dms-east"]} >= {"新车销售", "保养", "维修"}


def test_some_policies_run_out_within_the_month() -> None:
    rows = demo_rows(_people(400), rng=random.Random(3), today=TODAY)["picc"]
    ends = [datetime.strptime(row["终保日期"], "%Y%m%d").date() for row in rows]
    starts = [datetime.strptime(row["起保日期"], "%Y%m%d").date() for row in rows]
    soon = [end for end in ends if TODAY < end <= TODAY + timedelta(days=30)]
    assert 15 <= len(soon) <= len({row["车架号"] for row in rows}) // 3
    assert all(start <= TODAY for start in starts)  # nothing happens in the future


def test_the_demo_sources_import_cleanly_and_again_change_nothing(session: Session, world: World) -> None:
    runs = seed_source_records(session, rng=random.Random(7), now=NOW, customers=5)
    assert set(runs) == {"dms-east", "picc", "ford-finance", "used-car", "wecom"}
    assert all(run.rejected == 0 and run.problems == 0 for run in runs.values())
    assert runs["dms-east"].created >= 5 and runs["picc"].created >= 5  # each world customer has a car
    again = seed_source_records(session, rng=random.Random(7), now=NOW, customers=5)
    assert all(run.created == run.updated == 0 for run in again.values())


def test_linked_demo_records_fill_the_timeline(session: Session, world: World) -> None:
    seed_source_records(session, rng=random.Random(7), now=NOW, customers=5)
    owners = dict(session.execute(select(ContactPoint.value, ContactPoint.customer_id)).all())
    records = session.execute(select(SourceRecord.id, SourceRecord.normalized)).all()
    links = [{"id": rid, "customer_id": owners.get(normalized.get("phone"))} for rid, normalized in records]
    session.execute(update(SourceRecord), [link for link in links if link["customer_id"]])
    assert project_source_events(session) > 0
    kinds = dict(
        session.execute(
            select(TimelineEvent.kind, func.count())
            .where(TimelineEvent.source_record_id.is_not(None))
            .group_by(TimelineEvent.kind)
        ).all()
    )
    assert kinds["purchase"] >= 5 and kinds["insurance_policy"] >= 5 and kinds["service_visit"] >= 1
    purchase = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "purchase").limit(1)).one()
    assert purchase.detail["source"] == "dms-east" and purchase.detail["amount"] >= 120_000
    assert purchase.summary.startswith("购车 · 锐界 · dms-east · ¥")
