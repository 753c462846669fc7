"""The import's fast paths write what the plain ones would: raw rows by template as the JSON encoder
writes them, normalised rows joined from per-value pieces, values remembered across batches, new records
by plain insert, ids in one go, the collector frozen only while workers run."""

from __future__ import annotations

import gc
import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from drivetrain.kit.ids import is_id
from drivetrain.sources import mapping, normalizers
from drivetrain.sources.mapping import IDENTITY_MAPPING, KeyLedger, MappedBatch, Mapper
from drivetrain.sources.models import Source, SourceRecord
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.service import record_ids
from tests.sources.conftest import Importer, export_csv
from tests.world import World, vin_for

KEY = b"test-key"
VIN = vin_for(42)


def _canonical(raw: dict[str, Any]) -> str:
    return json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _map(mapper: Mapper, rows: list[dict[str, Any]], start: int = 1) -> MappedBatch:
    batch = mapper.map(enumerate(rows, start=start))
    KeyLedger().admit(batch)
    return batch


@pytest.mark.parametrize(
    "raw",
    [
        {"phone": "13800138000", "备注": '老客户\n"转介绍"', "顾问": "李雷"},
        {"phone": "13800138000", "100%": "%s %d %%", "z": ""},
        {"phone": "13800138000"},
        {"phone": 13800138000, "external_id": 7, "注": None, "ok": True, "多": [1, {"a": 2.5}]},
    ],
    ids=["text", "percent-signs", "one-column", "json-values"],
)
def test_a_raw_row_is_stored_as_the_json_encoder_writes_it(raw: dict[str, Any]) -> None:
    (row,) = _map(Mapper(IDENTITY_MAPPING, id_key=KEY, key_required=False), [raw]).rows
    assert row.raw_json == _canonical(raw)
    reordered = dict(reversed(raw.items()))
    (again,) = _map(Mapper(IDENTITY_MAPPING, id_key=KEY, key_required=False), [reordered]).rows
    assert again.raw_json == row.raw_json and again.row_hash == row.row_hash


def test_a_normalised_row_is_its_fields_merged_in_mapping_order(frozen_clock: datetime) -> None:
    typed_vin = VIN[:11] + "O" + VIN[12:]  # corrected: a flag among the text
    cells = {
        "external_id": "RO-1",
        "name": "王先生",
        "phone": "138 0013 8000",
        "vin": typed_vin,
        "amount": "1,280.50",
        "mileage_km": "1.2万公里",
        "event_type": "保养",
        "address": "杭州市滨江区江南大道100号",
    }
    (row,) = _map(Mapper(IDENTITY_MAPPING, id_key=KEY), [cells]).rows
    address = normalizers.addresses([normalizers.clean_address(cells["address"])])[0]
    expected = (
        normalizers.name("王先生")
        | normalizers.phone("138 0013 8000")
        | normalizers.vin(typed_vin)
        | normalizers.event_type("保养")
        | normalizers.amount("1,280.50")
        | normalizers.mileage_km("1.2万公里")
        | address
    )
    assert row.normalized_json == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))


def test_a_value_seen_again_maps_as_it_did_the_first_time(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"external_id": f"K{n}", "phone": phone, "name": "張偉", "address": "杭州市滨江区江南大道100号"}
        for n, phone in enumerate(["13800138000", "12345", "13800138000", "12345"])
    ]
    mapper = Mapper(IDENTITY_MAPPING, id_key=KEY)
    first, second = _map(mapper, rows[:2], start=1), _map(mapper, rows[2:], start=3)
    assert [r.normalized_json for r in first.rows] == [r.normalized_json for r in second.rows]
    assert [(p.row, p.field, p.value, p.reason) for p in second.problems] == [
        (4, "phone", "12345", first.problems[0].reason),
        (4, "row", "", first.problems[1].reason),
    ]
    monkeypatch.setattr(mapping, "MEMO_SIZE", 0)  # forgetting between batches changes nothing
    forgetful = Mapper(IDENTITY_MAPPING, id_key=KEY)
    again = [_map(forgetful, rows[:2], start=1), _map(forgetful, rows[2:], start=3)]
    assert [tuple(r) for b in again for r in b.rows] == [tuple(r) for b in (first, second) for r in b.rows]


def test_record_ids_come_ascending_and_unique_sharing_their_millisecond() -> None:
    ids = record_ids(5000)
    assert ids == sorted(ids) and len(set(ids)) == 5000
    assert all(is_id(record_id) for record_id in ids)
    assert len({record_id[:10] for record_id in ids}) == 1
    assert record_ids(0) == []


def test_new_and_changed_records_are_written_and_the_collector_unfrozen(
    session: Session, dms: Source, import_file: Importer
) -> None:
    rows = [[f"P{n:05d}", "顾客", f"138{n:08d}", "", "", "杭州市滨江区", "", ""] for n in range(2500)]
    first = import_file(dms, "big.csv", export_csv(rows), workers=2)
    assert gc.get_freeze_count() == 0
    stored = {
        r.external_id: r
        for r in session.scalars(select(SourceRecord).where(SourceRecord.source_id == dms.id))
    }
    rows[7][5], rows[2400][5] = "宁波市鄞州区", "宁波市鄞州区"
    rows.append(["P09999", "新客", "13999999999", "", "", "", "", ""])
    second = import_file(dms, "big.csv", export_csv(rows), workers=2)
    assert (first.run.created, second.run.created, second.run.updated, second.run.unchanged) == (
        2500,
        1,
        2,
        2498,
    )
    session.expire_all()
    after = {
        r.external_id: r
        for r in session.scalars(select(SourceRecord).where(SourceRecord.source_id == dms.id))
    }
    assert after["P00007"].normalized["city"] == "宁波市" and after["P00007"].id == stored["P00007"].id
    assert after["P00007"].last_import_id == second.run.id and after["P00008"].last_import_id == first.run.id
    assert after["P00007"].first_seen_at == stored["P00007"].first_seen_at
    assert after["P09999"].last_import_id == second.run.id


def test_a_changed_record_keeps_its_customer_and_a_record_whose_hash_is_stored_is_left_alone(
    session: Session, world: World, dms: Source, import_file: Importer
) -> None:
    rows = [[f"P{n}", "顾客", f"1380000000{n}", "", "", "杭州市滨江区", "", ""] for n in range(2)]
    first = import_file(dms, "two.csv", export_csv(rows))
    before = _records(session, dms)
    linked, stale = before["P0"], before["P1"]
    customer = world.customers["cust_a1"]
    session.execute(update(SourceRecord).where(SourceRecord.id == linked.id).values(customer_id=customer))
    rows[0][5] = "宁波市鄞州区"
    second = import_file(dms, "two.csv", export_csv(rows))
    # Another import may have stored this very row meanwhile: given as changed, it is not written again.
    repository = SourceRepository(session)
    repository.write_records(
        new=[],
        changed=[
            {
                "id": record_ids(1)[0],
                "source_id": dms.id,
                "external_id": "P1",
                "raw": "{}",
                "normalized": "{}",
                "row_hash": stale.row_hash,
                "first_seen_at": repository.bound_time(stale.updated_at),
                "updated_at": repository.bound_time(stale.updated_at),
                "last_import_id": second.run.id,
            }
        ],
    )
    session.expire_all()
    after = _records(session, dms)
    changed, unchanged = after["P0"], after["P1"]
    assert (changed.id, changed.customer_id, changed.normalized["city"]) == (linked.id, customer, "宁波市")
    assert changed.last_import_id == second.run.id and changed.first_seen_at == linked.first_seen_at
    assert (unchanged.id, unchanged.raw, unchanged.last_import_id) == (stale.id, stale.raw, first.run.id)


def _records(session: Session, source: Source) -> dict[str, SourceRecord]:
    stmt = select(SourceRecord).where(SourceRecord.source_id == source.id)
    return {record.external_id: record for record in session.scalars(stmt)}
