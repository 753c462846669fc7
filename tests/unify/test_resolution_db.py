"""Identity resolution over the database (SQLite and PostgreSQL): source records link to the
existing customer or a new one, ids stay stable, families and resold cars stay apart, the golden
record keeps the best value per field with its provenance, and people's decisions bind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.models import ContactPoint, Customer
from drivetrain.kit import clock
from drivetrain.sources import service as sources
from drivetrain.sources.models import Source, SourceRecord, SourceType
from drivetrain.sources.schemas import SourceCreate
from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.models import MatchReview, ReviewStatus
from drivetrain.unify.review import decide
from drivetrain.unify.service import run_resolution
from tests.world import World, vin_for

CONFIG = ResolveConfig(threads=1, memory_limit="256MB")


def _source(session: Session, name: str, kind: SourceType, trust: int) -> Source:
    return sources.register_source(session, SYSTEM, data=SourceCreate(name=name, type=kind, trust_rank=trust))


def _send(session: Session, source: Source, *records: dict[str, Any]) -> None:
    result = sources.import_batch(session, SYSTEM, source, profile=None, records=list(records))
    assert result.problems == [], result.problems
    session.flush()


def _customer_of(session: Session, source: Source, external_id: str) -> Customer:
    record = session.scalar(
        select(SourceRecord).where(
            SourceRecord.source_id == source.id, SourceRecord.external_id == external_id
        )
    )
    assert record is not None and record.customer_id is not None
    customer = session.get(Customer, record.customer_id)
    assert customer is not None
    return customer


@pytest.fixture
def dms(session: Session) -> Source:
    return _source(session, "dms-east", SourceType.DMS, 80)


@pytest.fixture
def insurer(session: Session) -> Source:
    return _source(session, "insurer", SourceType.INSURANCE, 60)


def test_a_returning_owner_s_second_car_links_to_them(session: Session, world: World, dms: Source) -> None:
    """The DMS's sale of a new car to 张伟 (cust_a1): same name and phone, another VIN."""
    _send(session, dms, {"external_id": "N1", "name": "张伟", "phone": "13800000001", "vin": vin_for(902)})
    run = run_resolution(session, SYSTEM, CONFIG)
    assert _customer_of(session, dms, "N1").id == world.customers["cust_a1"]
    assert run.customers_created == 0


def test_a_record_of_an_existing_customer_links_to_them(session: Session, world: World, dms: Source) -> None:
    _send(session, dms, {"external_id": "D1", "name": "張偉", "phone": "138-0000-0001", "vin": vin_for(1)})
    run = run_resolution(session, SYSTEM, CONFIG)
    customer = _customer_of(session, dms, "D1")
    assert customer.id == world.customers["cust_a1"]
    assert run.customers_created == 0 and run.records_moved == 1
    assert session.scalar(
        select(ContactPoint.id).where(ContactPoint.customer_id == customer.id, ContactPoint.kind == "mobile")
    )
    again = run_resolution(session, SYSTEM, CONFIG)
    assert (again.customers_created, again.records_moved, again.customers_updated) == (0, 0, 0)


def test_one_new_person_across_sources_becomes_one_customer_whose_id_stays(
    session: Session, world: World, dms: Source, insurer: Source
) -> None:
    _send(
        session,
        dms,
        {
            "external_id": "D7",
            "name": "欧阳娜娜",
            "phone": "13912345678",
            "vin": vin_for(907),
            "address": "浙江省杭州市滨江区江南大道100号",
        },
    )
    _send(session, insurer, {"external_id": "P7", "name": "歐陽娜娜", "phone": "+86 139 1234 5678"})
    run = run_resolution(session, SYSTEM, CONFIG)
    person = _customer_of(session, dms, "D7")
    assert _customer_of(session, insurer, "P7").id == person.id
    assert run.customers_created == 1
    assert person.dealer_id is None  # held by HQ until a dealer takes them on
    assert (person.name, person.primary_phone, person.district) == ("欧阳娜娜", "+8613912345678", "滨江区")
    assert person.provenance["name"]["source"] in {"dms-east", "insurer"}
    assert person.provenance["address"]["source"] == "dms-east"

    _send(
        session,
        insurer,
        {"external_id": "P8", "name": "欧阳娜娜", "phone": "13912345678", "email": "nana@example.com"},
    )
    later = run_resolution(session, SYSTEM, CONFIG)
    assert later.customers_created == 0
    assert _customer_of(session, insurer, "P8").id == person.id  # the id did not change
    assert _customer_of(session, dms, "D7").id == person.id


def test_a_family_sharing_a_phone_and_a_resold_car_stay_apart(
    session: Session, world: World, dms: Source
) -> None:
    _send(
        session,
        dms,
        {"external_id": "F1", "name": "陈建国", "phone": "13655550000", "vin": vin_for(911)},
        {"external_id": "F2", "name": "刘美华", "phone": "13655550000", "vin": vin_for(912)},
        {"external_id": "S1", "name": "周杰", "phone": "13511112222", "vin": vin_for(913)},
        {"external_id": "S2", "name": "吴磊", "phone": "13733334444", "vin": vin_for(913)},
    )
    run_resolution(session, SYSTEM, CONFIG)
    people = {key: _customer_of(session, dms, key).id for key in ("F1", "F2", "S1", "S2")}
    assert len(set(people.values())) == 4


def test_the_golden_record_takes_each_field_by_its_rule(
    session: Session, world: World, dms: Source, insurer: Source, frozen_clock: datetime
) -> None:
    _send(
        session, insurer, {"external_id": "P1", "name": "孙先生", "phone": "13811110000", "vin": vin_for(921)}
    )
    clock.freeze(frozen_clock + timedelta(days=30))
    _send(
        session,
        dms,
        {
            "external_id": "D1",
            "name": "孙立新",
            "phone": "13811110000",
            "vin": vin_for(921),
            "email": "sun@example.com",
        },
    )
    clock.freeze(frozen_clock + timedelta(days=60))
    _send(
        session, insurer, {"external_id": "P2", "name": "孙立新", "phone": "13922220000", "vin": vin_for(921)}
    )
    run_resolution(session, SYSTEM, CONFIG)
    person = _customer_of(session, dms, "D1")
    assert {_customer_of(session, insurer, key).id for key in ("P1", "P2")} == {person.id}
    assert person.name == "孙立新"  # a full name beats the salutation, whatever the trust
    assert person.provenance["name"]["rule"] in {"full_name", "trust"}
    assert person.primary_phone == "+8613922220000"  # the newest record's phone
    assert person.provenance["phone"] == {
        "source": "insurer",
        "record_id": person.provenance["phone"]["record_id"],
        "rule": "recency",
        "at": person.provenance["phone"]["at"],
    }
    kinds = set(
        session.execute(
            select(ContactPoint.kind, ContactPoint.value).where(ContactPoint.customer_id == person.id)
        )
    )
    assert {("mobile", "+8613811110000"), ("mobile", "+8613922220000"), ("email", "sun@example.com")} <= kinds


def test_a_link_between_two_existing_customers_is_queued_not_made(
    session: Session, world: World, dms: Source
) -> None:
    """A record carrying cust_a1's car and phone and cust_a1b's WeChat id would join the two."""
    other = session.get(Customer, world.customers["cust_a1b"])
    assert other is not None
    session.add(ContactPoint(customer_id=other.id, kind="wechat_unionid", value="o6_xQ9dVb4n2Lk7Hs1"))
    _send(
        session,
        dms,
        {
            "external_id": "X2",
            "name": "张伟",
            "phone": "13800000001",
            "vin": vin_for(1),
            "wechat_unionid": "o6_xQ9dVb4n2Lk7Hs1",
        },
    )
    run = run_resolution(session, SYSTEM, CONFIG)
    assert _customer_of(session, dms, "X2").id in {world.customers["cust_a1"], world.customers["cust_a1b"]}
    assert run.customers_created == 0 and run.review_pairs >= 1
    queued = session.scalars(select(MatchReview).where(MatchReview.reason == "existing customers")).all()
    assert queued and all(item.status == ReviewStatus.PENDING for item in queued)
    assert {item.record_l for item in queued} | {item.record_r for item in queued} & {
        f"crm:{world.customers['cust_a1']}",
        f"crm:{world.customers['cust_a1b']}",
    }
    merged = session.scalars(
        select(Customer.merged_into_id).where(Customer.merged_into_id.is_not(None))
    ).all()
    assert merged == []  # nobody was merged by the machine


def test_deciding_same_merges_and_different_binds_the_next_run(
    session: Session, world: World, dms: Source
) -> None:
    _send(
        session,
        dms,
        {"external_id": "R1", "name": "黄晓明", "phone": "13566667777", "vin": vin_for(941)},
        {"external_id": "R2", "name": "黄先生", "email": "hxm@example.com"},
        {"external_id": "R3", "name": "黄晓明", "email": "hxm@example.com", "phone": "13566668888"},
    )
    run_resolution(session, SYSTEM, CONFIG)
    before = {key: _customer_of(session, dms, key).id for key in ("R1", "R2", "R3")}
    item = MatchReview(record_l="a", record_r="b", probability=0.4, reason="borderline")
    # A person decides two records are different: the next run keeps them apart, whatever links them.
    r1, r3 = (
        session.scalar(select(SourceRecord.id).where(SourceRecord.external_id == key)) for key in ("R1", "R3")
    )
    assert r1 and r3
    item.record_l, item.record_r = sorted((r1, r3))
    session.add(item)
    session.flush()
    decision = decide(session, SYSTEM, item.id, same=False, comment="father and son")
    assert decision.merge is None
    run_resolution(session, SYSTEM, CONFIG)
    assert _customer_of(session, dms, "R1").id != _customer_of(session, dms, "R3").id
    assert session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "identity.review")
    )
    assert before  # the first run linked every record


def test_only_hq_identity_managers_run_resolution(client_for: Callable[[str], TestClient]) -> None:
    """The route's gate refuses a dealer's manager before anything runs."""
    assert client_for("sm_a1").post("/api/v1/resolution-runs", json={}).status_code == 403


def _snapshot(session: Session, customer_id: str) -> dict[str, Any]:
    """What a merge touches of a customer: golden fields and every row that points at them."""
    from drivetrain.unify.merge import GOLDEN_FIELDS
    from drivetrain.unify.repository import customer_references

    session.expire_all()
    customer = session.get(Customer, customer_id)
    assert customer is not None
    rows = {
        f"{column.table.name}.{column.name}": sorted(
            map(str, session.execute(select(*column.table.primary_key.columns).where(column == customer_id)))
        )
        for column in customer_references()
    }
    return {
        "fields": {name: getattr(customer, name) for name in GOLDEN_FIELDS},
        "rows": rows,
        "merged_into": customer.merged_into_id,
    }


def test_merge_then_unmerge_restores_both_customers(session: Session, world: World, dms: Source) -> None:
    from drivetrain.unify.merge import merge_customers, unmerge

    survivor, merged = world.customers["cust_a1"], world.customers["cust_a1b"]
    _send(session, dms, {"external_id": "M1", "name": "李娜", "phone": "13800000002", "vin": vin_for(2)})
    run_resolution(session, SYSTEM, CONFIG)
    assert _customer_of(session, dms, "M1").id == merged
    before = {key: _snapshot(session, key) for key in (survivor, merged)}
    assert before[merged]["rows"]["lead.customer_id"] and before[merged]["rows"]["source_record.customer_id"]

    record = merge_customers(session, SYSTEM, survivor_id=survivor, merged_id=merged, reason="one person")
    after = _snapshot(session, survivor)
    assert _snapshot(session, merged)["merged_into"] == survivor
    assert set(before[merged]["rows"]["lead.customer_id"]) <= set(after["rows"]["lead.customer_id"])
    assert _customer_of(session, dms, "M1").id == survivor
    run_resolution(session, SYSTEM, CONFIG)  # the merge binds later runs
    assert _customer_of(session, dms, "M1").id == survivor

    unmerge(session, SYSTEM, record.id, reason="two people after all")
    for key in (survivor, merged):
        restored = _snapshot(session, key)
        assert restored["fields"] == before[key]["fields"]
        assert restored["rows"] == before[key]["rows"]
        assert restored["merged_into"] is None
    run_resolution(session, SYSTEM, CONFIG)
    assert _customer_of(session, dms, "M1").id == merged
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == survivor)))
    assert {"customer.merge", "customer.unmerge"} <= actions


def test_the_resolve_command_reports_what_it_did(session: Session, world: World, dms: Source) -> None:
    from typer.testing import CliRunner

    from drivetrain.cli import app as cli

    _send(session, dms, {"external_id": "C1", "name": "郑爽", "phone": "13700001111", "vin": vin_for(951)})
    session.commit()
    result = CliRunner().invoke(cli, ["resolve", "--review-probability", "0.3"])
    assert result.exit_code == 0, result.output
    assert "customers created:      1" in result.output and "records relinked:       1" in result.output
    assert _customer_of(session, dms, "C1").name == "郑爽"
    refused = CliRunner().invoke(cli, ["resolve", "--engine", "hadoop"])
    assert refused.exit_code != 0 and "--engine" in refused.output


def test_a_person_s_edit_outlives_the_next_run(session: Session, world: World, dms: Source) -> None:
    from drivetrain.customers.repository import CustomerRepository
    from drivetrain.customers.schemas import CustomerUpdate
    from drivetrain.customers.service import update_customer

    _send(session, dms, {"external_id": "E1", "name": "冯小刚", "phone": "13700002222", "vin": vin_for(961)})
    run_resolution(session, SYSTEM, CONFIG)
    found = _customer_of(session, dms, "E1")
    assert found.provenance["phone"]["source"] == "dms-east"
    person = CustomerRepository(session).get_readable(SYSTEM, found.id)
    update_customer(session, SYSTEM, person, data=CustomerUpdate(phone="13700003333"))
    assert "phone" not in person.provenance
    run_resolution(session, SYSTEM, CONFIG)
    session.refresh(person)
    assert person.primary_phone == "+8613700003333"  # entered in Drivetrain: trusted above the DMS
