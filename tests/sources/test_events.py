"""Source records carry events: event fields are normalised and checked like the others, the kind defaults
from the source's type, and each linked record's event lands on its customer's timeline exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.models import TimelineEvent
from drivetrain.sources import normalizers, service
from drivetrain.sources.events import event_of, project_source_events
from drivetrain.sources.mapping import KeyLedger, MappedBatch, Mapper, event_kind
from drivetrain.sources.models import Source, SourceRecord, SourceType
from drivetrain.sources.schemas import SourceCreate
from tests.world import World, vin_for

KEY = b"test-key"

# ---------------------------------------------------------------- normalising event fields


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1280", 1280.0),
        ("1,280.50", 1280.5),
        ("¥1,280", 1280.0),
        ("￥ 980元", 980.0),
        ("12.8万", 128000.0),
        ("１２８０", 1280.0),
        ("0", 0.0),
    ],
)
def test_amounts_read_as_yuan(text: str, expected: float) -> None:
    assert normalizers.amount(text) == {"amount": expected}


@pytest.mark.parametrize("text", ["abc", "-50", "1e9", "NaN", "12..5", "¥"])
def test_bad_amounts_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        normalizers.amount(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12345", 12345), ("12,345 km", 12345), ("1.2万公里", 12000), ("８８００", 8800)],
)
def test_mileage_reads_as_whole_km(text: str, expected: int) -> None:
    assert normalizers.mileage_km(text) == {"mileage_km": expected}


@pytest.mark.parametrize("text", ["far", "-1", "3000000"])
def test_bad_mileage_says_why(text: str) -> None:
    with pytest.raises(ValueError, match="mileage"):
        normalizers.mileage_km(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("purchase", "purchase"),
        ("Service_Visit", "service_visit"),
        ("保养", "service_visit"),
        ("续保", "insurance_policy"),
        ("贷款", "finance_contract"),
        ("置换评估", "used_car_appraisal"),
        ("企微", "wecom_interaction"),
    ],
)
def test_event_types_by_name_or_by_the_words_exports_use(text: str, kind: str) -> None:
    assert normalizers.event_type(text) == {"event_type": kind}


def test_an_unknown_event_type_lists_the_kinds() -> None:
    with pytest.raises(ValueError, match="purchase, service_visit"):
        normalizers.event_type("洗车")


def test_a_policy_may_expire_in_the_future_but_nothing_happened_there(frozen_clock: datetime) -> None:
    assert normalizers.expires_on("2027/03/01", None) == {"expires_on": "2027-03-01"}
    with pytest.raises(ValueError, match="in the future"):
        normalizers.event_date("2027-03-01", None)
    with pytest.raises(ValueError, match="30 years"):
        normalizers.expires_on("2099-01-01", None)


def test_series_and_notes_are_tidied_and_bounded() -> None:
    assert normalizers.series(" Mondeo　 蒙迪欧 ") == {"series": "Mondeo 蒙迪欧"}
    assert normalizers.note("更换\n机油  机滤") == {"note": "更换 机油 机滤"}
    with pytest.raises(ValueError, match="longer than 200"):
        normalizers.note("长" * 201)


EVENT_PROFILE = {
    "external_id": "工单号",
    "phone": "手机",
    "vin": "车架号",
    "event_type": "业务类型",
    "event_date": "日期",
    "amount": "金额",
    "expires_on": "到期日",
    "series": "车系",
    "mileage_km": "里程",
    "note": "备注",
}


def _map(rows: list[dict[str, str]]) -> MappedBatch:
    batch = Mapper(EVENT_PROFILE, id_key=KEY).map(enumerate(rows, start=1))
    KeyLedger().admit(batch)
    return batch


def _cells(**values: str) -> dict[str, str]:
    return {column: "" for column in EVENT_PROFILE.values()} | {
        EVENT_PROFILE[k]: v for k, v in values.items()
    }


def test_event_fields_map_with_the_rest_of_the_row(frozen_clock: datetime) -> None:
    row = _cells(
        external_id="RO-1",
        phone="13800138000",
        vin=vin_for(7),
        event_type="保养",
        event_date="2025/11/03",
        amount="¥1,280",
        series="锐界",
        mileage_km="12,345",
        note="首保",
    )
    batch = _map([row])
    assert batch.problems == [] and batch.rejected == []
    normalized = batch.rows[0].normalized
    assert {
        k: normalized[k] for k in ("event_type", "event_date", "amount", "series", "mileage_km", "note")
    } == {
        "event_type": "service_visit",
        "event_date": "2025-11-03",
        "amount": 1280.0,
        "series": "锐界",
        "mileage_km": 12345,
        "note": "首保",
    }


def test_bad_event_values_are_dropped_and_reported_but_the_row_is_kept(frozen_clock: datetime) -> None:
    rows = [
        _cells(external_id="RO-1", phone="13800138000", event_date="2025-13-40", amount="免费"),
        _cells(external_id="RO-2", phone="13800138001", event_type="洗车", expires_on="明年"),
    ]
    batch = _map(rows)
    assert [row.external_id for row in batch.rows] == ["RO-1", "RO-2"]
    assert {(p.row, p.field, p.value) for p in batch.problems} == {
        (1, "event_date", "2025-13-40"),
        (1, "amount", "免费"),
        (2, "event_type", "洗车"),
        (2, "expires_on", "明年"),
    }
    first, second = (row.normalized for row in batch.rows)
    assert "event_date" not in first and "amount" not in first and first["phone"] == "+8613800138000"
    assert "event_type" not in second and "expires_on" not in second


@pytest.mark.parametrize(
    ("source_type", "normalized", "kind"),
    [
        ("dms", {"event_date": "2025-01-02"}, "service_visit"),
        ("dms", {"purchase_date": "2024-05-01"}, "purchase"),
        ("dms", {"purchase_date": "2024-05-01", "event_date": "2025-01-02"}, "service_visit"),
        ("dms", {"event_type": "purchase", "event_date": "2025-01-02"}, "purchase"),
        ("erp", {}, "purchase"),
        ("insurance", {}, "insurance_policy"),
        ("finance", {}, "finance_contract"),
        ("used_car", {}, "used_car_appraisal"),
        ("wecom", {}, "wecom_interaction"),
        ("crm", {"event_date": "2025-01-02"}, None),
        ("mini_program", {}, None),
        ("crm", {"event_type": "service_visit"}, "service_visit"),
    ],
)
def test_the_kind_defaults_from_the_source_type(
    source_type: str, normalized: dict[str, Any], kind: str | None
) -> None:
    assert event_kind(source_type, normalized) == kind


def test_an_event_is_placed_at_the_start_of_its_china_day_with_a_console_summary() -> None:
    found = event_of(
        "picc",
        "insurance",
        {"event_date": "2026-03-01", "expires_on": "2027-03-01", "amount": 4200.0, "vin": vin_for(1)},
    )
    assert found is not None
    assert found.kind == "insurance_policy"
    assert found.at == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert found.summary == "投保 · picc · ¥4,200 · 保险到期 2027-03-01"
    assert found.detail == {
        "source": "picc",
        "source_type": "insurance",
        "amount": 4200.0,
        "expires_on": "2027-03-01",
        "vin": vin_for(1),
    }
    assert event_of("dms-hz", "dms", {"phone": "+8613800138000"}) is None  # no day: nothing to place
    assert event_of("crm", "crm", {"event_date": "2026-03-01"}) is None  # no kind


# ---------------------------------------------------------------- projecting onto timelines


def _source(session: Session, name: str, type_: SourceType) -> Source:
    return service.register_source(session, SYSTEM, data=SourceCreate(name=name, type=type_, trust_rank=70))


def _import(session: Session, source: Source, records: list[dict[str, Any]]) -> dict[str, SourceRecord]:
    service.import_batch(session, SYSTEM, source, profile=None, records=records)
    session.flush()
    stored = session.scalars(select(SourceRecord).where(SourceRecord.source_id == source.id))
    return {record.external_id: record for record in stored}


def _link(session: Session, record: SourceRecord, customer_id: str | None) -> None:
    session.execute(update(SourceRecord).where(SourceRecord.id == record.id).values(customer_id=customer_id))


def _events(session: Session) -> dict[str, TimelineEvent]:
    stmt = select(TimelineEvent).where(TimelineEvent.source_record_id.is_not(None))
    session.expire_all()
    return {e.source_record_id: e for e in session.scalars(stmt) if e.source_record_id}


@pytest.fixture
def linked(session: Session, world: World, frozen_clock: datetime) -> dict[str, SourceRecord]:
    """A DMS visit and purchase, an insurance policy and a CRM note, all linked to cust_a1."""
    dms = _source(session, "dms-hz", SourceType.DMS)
    insurer = _source(session, "picc", SourceType.INSURANCE)
    crm = _source(session, "crm-hq", SourceType.CRM)
    records = _import(
        session,
        dms,
        [
            {"external_id": "RO-1", "phone": "13800000001", "event_date": "2025-11-03", "amount": "1280"},
            {"external_id": "SO-1", "phone": "13800000001", "purchase_date": "2024-05-01", "series": "锐界"},
        ],
    )
    records |= _import(
        session,
        insurer,
        [
            {
                "external_id": "P-1",
                "phone": "13800000001",
                "event_date": "2026-03-01",
                "expires_on": "2027-03-01",
                "amount": "4200",
            }
        ],
    )
    records |= _import(session, crm, [{"external_id": "N-1", "phone": "13800000001", "note": "老客户"}])
    for record in records.values():
        _link(session, record, world.customers["cust_a1"])
    return records


def test_linked_records_put_their_events_on_the_customer_timeline(
    session: Session, world: World, linked: dict[str, SourceRecord]
) -> None:
    assert project_source_events(session, [r.id for r in linked.values()]) == 3
    events = _events(session)
    assert set(events) == {linked[key].id for key in ("RO-1", "SO-1", "P-1")}  # the CRM note names no event
    visit, sale, policy = (events[linked[key].id] for key in ("RO-1", "SO-1", "P-1"))
    assert {e.customer_id for e in events.values()} == {world.customers["cust_a1"]}
    assert (visit.kind, visit.summary) == ("service_visit", "保养 · dms-hz · ¥1,280")
    assert visit.at == datetime(2025, 11, 2, 16, 0, tzinfo=UTC)
    assert (sale.kind, sale.summary, sale.detail["series"]) == ("purchase", "购车 · 锐界 · dms-hz", "锐界")
    assert policy.kind == "insurance_policy"
    assert policy.detail["expires_on"] == "2027-03-01" and policy.detail["amount"] == 4200.0
    assert policy.detail["source"] == "picc" and policy.detail["source_type"] == "insurance"


def test_projecting_again_changes_nothing(session: Session, linked: dict[str, SourceRecord]) -> None:
    project_source_events(session)
    before = {key: (e.id, e.at, e.summary, e.detail) for key, e in _events(session).items()}
    assert project_source_events(session) == 0
    assert project_source_events(session, [r.id for r in linked.values()]) == 0
    assert {key: (e.id, e.at, e.summary, e.detail) for key, e in _events(session).items()} == before


def test_a_relinked_record_moves_its_event(
    session: Session, world: World, linked: dict[str, SourceRecord]
) -> None:
    project_source_events(session)
    visit = linked["RO-1"]
    first_id = _events(session)[visit.id].id
    _link(session, visit, world.customers["cust_a2"])
    assert project_source_events(session, [visit.id]) == 1
    moved = _events(session)[visit.id]
    assert (moved.id, moved.customer_id) == (first_id, world.customers["cust_a2"])


def test_an_unlinked_record_loses_its_event(session: Session, linked: dict[str, SourceRecord]) -> None:
    project_source_events(session)
    _link(session, linked["P-1"], None)
    assert project_source_events(session) == 1
    assert linked["P-1"].id not in _events(session)
    assert len(_events(session)) == 2


def test_a_changed_record_updates_its_event(session: Session, linked: dict[str, SourceRecord]) -> None:
    project_source_events(session)
    insurer = session.scalars(select(Source).where(Source.name == "picc")).one()
    changed = {
        "external_id": "P-1",
        "phone": "13800000001",
        "event_date": "2026-03-01",
        "expires_on": "2027-04-01",
        "amount": "4,500",
    }
    _import(session, insurer, [changed])
    assert project_source_events(session, [linked["P-1"].id]) == 1
    policy = _events(session)[linked["P-1"].id]
    assert policy.detail["expires_on"] == "2027-04-01" and policy.detail["amount"] == 4500.0
    assert policy.summary == "投保 · picc · ¥4,500 · 保险到期 2027-04-01"


def test_a_record_that_no_longer_names_a_day_loses_its_event(
    session: Session, linked: dict[str, SourceRecord]
) -> None:
    project_source_events(session)
    dms = session.scalars(select(Source).where(Source.name == "dms-hz")).one()
    _import(session, dms, [{"external_id": "RO-1", "phone": "13800000001", "amount": "1280"}])
    assert project_source_events(session, [linked["RO-1"].id]) == 1
    assert linked["RO-1"].id not in _events(session)


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_thousands_of_records_project_in_a_few_statements(
    session: Session, world: World, frozen_clock: datetime
) -> None:
    wecom = _source(session, "wecom", SourceType.WECOM)
    records = _import(
        session,
        wecom,
        [
            {"external_id": f"W-{n}", "phone": f"139{n:08d}", "event_date": "2026-01-05", "note": f"咨询 {n}"}
            for n in range(2500)
        ],
    )
    session.execute(update(SourceRecord).values(customer_id=world.customers["cust_b1"]))
    with _statements(session) as seen:
        assert project_source_events(session, [r.id for r in records.values()]) == 2500
    # Two chunks of records: per chunk one read and one insert (SQLite may split a large executemany).
    assert len(seen) <= 12
    assert len(_events(session)) == 2500
    with _statements(session) as seen:
        assert project_source_events(session) == 0
    assert len(seen) <= 4
