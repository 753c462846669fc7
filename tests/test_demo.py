"""The demo world: deterministic for a seed, and every VIN, plate and phone in it is valid."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import func, select

from drivetrain.auth.models import User
from drivetrain.cases.models import ApprovalRequest, Case, CaseHistory, CaseSurvey
from drivetrain.customers.models import Customer, CustomerTag, Tag, TimelineEvent, Vehicle
from drivetrain.db import Database, open_database
from drivetrain.demo import seed as demo
from drivetrain.kit.i18n import LOCALES, catalog
from drivetrain.kit.phone import normalize_phone
from drivetrain.kit.plate import normalize_plate
from drivetrain.kit.vin import normalize_vin
from drivetrain.leads.models import Lead
from drivetrain.sources.models import SourceRecord
from drivetrain.sources.normalizers import EVENT_KINDS
from drivetrain.unify.models import ResolutionRun
from tests.conftest import DEMO_NOW, DemoBase, copy_demo_base, seed_demo_base

NOW = DEMO_NOW
WEDNESDAY_AFTERNOON = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai

# One worker seeds the demo base for this module and tests/quality/test_demo_seed.py.
pytestmark = pytest.mark.xdist_group("demo")


class DemoWorld(NamedTuple):
    """The whole demo, and what its seeding reported: the customers before the sources came, the run."""

    db: Database
    customers_before_sources: int
    run: ResolutionRun


@pytest.fixture(scope="module")
def demo_world(demo_base: DemoBase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    """The demo as ``drivetrain demo`` seeds it (leads, cases, their follow-up, then the sources), seeded
    once for this module: its tests only read it. The cases are opened up to a Wednesday afternoon, so
    the escalation sweep has moved the older ones up the ladder in business hours."""
    db = copy_demo_base(demo_base, tmp_path_factory.mktemp("demo-world") / "world.db")
    demo.seed_leads(db, count=120, rng=random.Random(11), now=NOW)
    demo.seed_cases(db, count=80, rng=random.Random(11), now=WEDNESDAY_AFTERNOON)
    demo.seed_case_follow_up(db, rng=random.Random(11), now=WEDNESDAY_AFTERNOON)
    with db.session(write=False) as session:
        before = session.scalar(
            select(func.count()).select_from(Customer).where(Customer.source != "resolution")
        )
    run = demo.seed_sources(db, rng=random.Random(11), now=NOW, people=1000)  # the DMS knows every car
    yield DemoWorld(db, before or 0, run)
    db.dispose()


def _fingerprint(db: Database) -> list[tuple[str, str | None, str | None]]:
    with db.session(write=False) as session:
        rows = session.execute(
            select(Customer.name, Customer.primary_phone, Vehicle.vin)
            .outerjoin(Vehicle, Vehicle.owner_id == Customer.id)
            .order_by(Customer.primary_phone)
        )
        return [tuple(row) for row in rows]


def test_same_seed_same_world_and_valid_identifiers(demo_base: DemoBase, tmp_path: Path) -> None:
    first = open_database(f"sqlite:///{demo_base.path}")
    second = seed_demo_base(tmp_path / "again.db", seed=demo_base.seed, customers=demo_base.customers)
    assert _fingerprint(first) == _fingerprint(second)
    with second.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == demo_base.customers
        vehicles = session.execute(select(Vehicle.vin, Vehicle.plate)).all()
        phones = session.scalars(select(Customer.primary_phone)).all()
        roles = dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert all(normalize_vin(vin) == vin for vin, _ in vehicles)
    assert all(normalize_plate(plate) == plate for _, plate in vehicles if plate)
    assert all(phone and normalize_phone(phone) == phone for phone in phones)
    assert roles["store_manager"] == 572 and roles["regional_manager"] == 6 and roles["executive"] == 1
    assert roles["sales_consultant"] >= 3 * 572
    first.dispose()
    second.dispose()


def test_reporting_lines_reach_the_ceo(demo_world: DemoWorld) -> None:
    with demo_world.db.session(write=False) as session:
        managers = dict(session.execute(select(User.id, User.manager_id)).all())
        names = dict(session.execute(select(User.id, User.username)).all())
        consultant = session.scalar(select(User.id).where(User.role == "sales_consultant").limit(1))
    chain = []
    current = consultant
    while current is not None:
        chain.append(names[current])
        current = managers[current]
    assert chain[0].startswith("sc_") and chain[1].startswith("sm_") and chain[2].startswith("region_")
    assert chain[-2:] == ["ops_head", "ceo"]


def test_demo_cases_have_climbed_the_ladder(demo_world: DemoWorld) -> None:
    with demo_world.db.session(write=False) as session:
        open_levels = dict(
            session.execute(select(Case.id, Case.escalation_level).where(Case.status == "open")).all()
        )
        statuses = set(session.scalars(select(Case.status)))
        escalated = set(session.scalars(select(CaseHistory.case_id).where(CaseHistory.kind == "escalated")))
    assert len(set(open_levels.values())) >= 2, open_levels  # older cases have moved up, newer not yet
    assert {"open", "waiting_customer", "resolved"} <= statuses
    assert {case for case, level in open_levels.items() if level > 0} <= escalated  # each climb is in history


def test_demo_cases_carry_approvals_and_answered_surveys(demo_world: DemoWorld) -> None:
    with demo_world.db.session(write=False) as session:
        decided = list(session.scalars(select(ApprovalRequest.status)))
        surveys = session.execute(select(func.count(), func.count(CaseSurvey.score))).one()
    assert decided.count("approved") == (len(decided) + 1) // 2 > 0  # every other request is decided
    sent, answered = surveys
    assert sent > 0 and 0 < answered <= sent


def test_demo_sources_resolve_onto_the_demo_customers(demo_world: DemoWorld) -> None:
    """The demo's DMS, insurer, finance, used-car and WeCom records link to the customers they are
    about (written with Traditional names, salutations and formatted phones), their events reach
    those customers' timelines, and owners registered at a second store wait in the review queue."""
    run = demo_world.run
    with demo_world.db.session(write=False) as session:
        linked = session.execute(
            select(func.count(), func.count(SourceRecord.customer_id)).select_from(SourceRecord)
        ).one()
        on_timelines = session.scalar(
            select(func.count()).select_from(TimelineEvent).where(TimelineEvent.source_record_id.is_not(None))
        )
        people = session.scalar(
            select(func.count()).select_from(Customer).where(Customer.source != "resolution")
        )
        expiring = session.scalar(
            select(func.count())
            .select_from(CustomerTag)
            .join(Tag, Tag.id == CustomerTag.tag_id)
            .where(Tag.name == "保险即将到期")
        )
    records, with_customer = linked
    assert records > 400 and with_customer == records
    assert run.customers_created <= records * 0.05  # nearly every record found its demo customer
    assert on_timelines and on_timelines > records * 0.5
    # the owners registered twice are not merged…
    assert people == demo_world.customers_before_sources + demo.DUPLICATE_REGISTRATIONS
    assert run.review_pairs >= demo.DUPLICATE_REGISTRATIONS  # …but queued for a person to decide
    assert expiring  # the renewal campaign's list is there from the start


def test_each_sold_car_has_one_purchase_on_its_owners_timeline(demo_world: DemoWorld) -> None:
    """The sale is the DMS's to tell: each car shows one purchase on its owner's timeline, and no other
    event tells the sale again (the demo used to write its own "vehicle.purchased" beside the DMS's).
    Every kind the whole demo writes has a label in both languages."""
    with demo_world.db.session(write=False) as session:
        cars = session.execute(select(Vehicle.id, Vehicle.vin, Vehicle.owner_id)).all()
        events = session.execute(
            select(TimelineEvent.customer_id, TimelineEvent.kind, TimelineEvent.detail)
        ).all()
    vin_of = {car.id: car.vin for car in cars}
    # the kinds of the events naming each car, and the purchases per (customer, car)
    about: dict[str, Counter[str]] = {car.vin: Counter() for car in cars}
    purchases: Counter[tuple[str, str | None]] = Counter()
    for customer_id, kind, detail in events:
        vin = detail.get("vin") or vin_of.get(detail.get("vehicle_id"))
        if vin is not None:
            about[vin][kind] += 1
        if kind == "purchase":
            purchases[customer_id, vin] += 1
    assert len(cars) > 50
    assert purchases == Counter((car.owner_id, car.vin) for car in cars)
    assert {vin: kinds["purchase"] for vin, kinds in about.items()} == {car.vin: 1 for car in cars}
    told = set().union(*about.values())
    assert told <= {*EVENT_KINDS, "vehicle.registered"}, told - {*EVENT_KINDS}
    kinds = {kind for _, kind, _ in events}
    for locale in LOCALES:
        assert not sorted(k for k in kinds if f"timeline.kind.{k}" not in catalog(locale)), locale


def test_the_showcase_logins_open_onto_their_own_work(demo_world: DemoWorld) -> None:
    """The store the printed demo logins are around has its share of the leads and cases: its first
    consultant's inbox, its advisor's and its manager's case lists are not empty, and every returning
    customer's lead there is a different person."""
    with demo_world.db.session(write=False) as session:
        store = demo.showcase_dealer(session)
        assert store is not None
        code = store.code.lower()
        staff = {u.username: u.id for u in session.scalars(select(User).where(User.dealer_id == store.id))}
        leads = session.execute(
            select(Lead.customer_id, Lead.consultant_id).where(Lead.dealer_id == store.id)
        ).all()
        holders = Counter(session.scalars(select(Case.owner_id).where(Case.dealer_id == store.id)))
    assert Counter(consultant for _, consultant in leads)[staff[f"sc_{code}_1"]] >= 3
    assert len({customer for customer, _ in leads}) >= len(leads) * 0.8  # nearly all a different person
    assert holders[staff[f"sa_{code}_1"]] + holders[staff[f"sm_{code}"]] >= 3
