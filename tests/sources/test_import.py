"""Importing source exports on SQLite and PostgreSQL: GBK CSV, XLSX and JSON; bad rows reported while good
rows are kept; the same file twice changes nothing; a changed row updates exactly its record."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.config import get_settings
from drivetrain.kit import clock
from drivetrain.kit.idcard import id_hash
from drivetrain.sources.models import ImportRun, Source, SourceRecord
from tests.sources.conftest import BAD_ID_NUMBER, GOOD, ID_NUMBER, ROWS, Importer, export_csv
from tests.world import vin_for


def _records(session: Session, source: Source) -> dict[str, SourceRecord]:
    stmt = select(SourceRecord).where(SourceRecord.source_id == source.id)
    return {record.external_id: record for record in session.scalars(stmt)}


def _counts(run: ImportRun) -> tuple[int, int, int, int, int]:
    return run.rows_read, run.created, run.updated, run.unchanged, run.rejected


def test_a_gbk_export_imports_with_raw_beside_normalised(
    session: Session, dms: Source, import_file: Importer, frozen_clock: datetime
) -> None:
    result = import_file(dms, "export.csv", export_csv(ROWS, "gbk"))
    assert _counts(result.run) == (6, 3, 0, 0, 3)
    records = _records(session, dms)
    assert set(records) == GOOD
    first = records["C001"]
    assert first.raw["客户姓名"] == "張偉" and first.raw["销售顾问"] == "李雷"  # as the DMS sent it
    assert first.normalized["name"] == "张伟" and first.normalized["name_key"] == "zhangwei"
    assert first.normalized["phone"] == "+8613800138000"
    assert first.normalized["vin"] == vin_for(101)
    assert (first.normalized["city"], first.normalized["district"], first.normalized["adcode"]) == (
        "杭州市",
        "滨江区",
        "330108",
    )
    assert first.normalized["purchase_date"] == "2024-03-01"
    assert first.first_seen_at == first.updated_at == frozen_clock
    assert first.last_import_id == result.run.id
    assert records["C006"].normalized["vin"] == vin_for(106)  # typed in lower case


def test_bad_rows_are_reported_by_row_and_field_and_good_rows_kept(
    session: Session, dms: Source, import_file: Importer
) -> None:
    result = import_file(dms, "export.csv", export_csv(ROWS, "gbk"))
    found = {(p.row, p.field): p for p in result.problems}
    assert "11 digits" in found[(2, "phone")].reason and found[(2, "phone")].value == "12345"
    assert found[(2, "purchase_date")].reason == "not a date in the format %Y/%m/%d"
    assert found[(2, "row")].reason.startswith("rejected: every identifier is missing or bad")
    assert "check character" in found[(3, "id_number")].reason  # dropped; the row is kept on its phone
    assert found[(4, "external_id")].reason == "rejected: the key column is empty"
    assert found[(5, "row")].reason.startswith("rejected: no identifier")
    run = session.get(ImportRun, result.run.id)
    assert run is not None and run.problems == len(result.problems) == len(run.errors)
    assert {
        "row": 4,
        "field": "external_id",
        "value": "",
        "reason": "rejected: the key column is empty",
    } in run.errors
    kept = _records(session, dms)["C003"]
    assert "id_hash" not in kept.normalized and kept.normalized["phone"] == "+8613900001111"


def test_importing_the_same_file_again_changes_nothing(
    session: Session, dms: Source, import_file: Importer, frozen_clock: datetime
) -> None:
    data = export_csv(ROWS, "gb18030")
    first = import_file(dms, "export.csv", data)
    before = {key: (r.row_hash, r.updated_at, r.last_import_id) for key, r in _records(session, dms).items()}
    clock.advance(timedelta(hours=1))
    again = import_file(dms, "export.csv", data)
    assert _counts(again.run) == (6, 0, 0, 3, 3)
    session.expire_all()
    after = {key: (r.row_hash, r.updated_at, r.last_import_id) for key, r in _records(session, dms).items()}
    assert after == before and all(last == first.run.id for _, _, last in after.values())
    # A UTF-8 copy of the same export is the same rows.
    utf8 = import_file(dms, "export-utf8.csv", export_csv(ROWS, "utf-8-sig"))
    assert _counts(utf8.run) == (6, 0, 0, 3, 3)


def test_a_changed_row_updates_exactly_its_record(
    session: Session, dms: Source, import_file: Importer, frozen_clock: datetime
) -> None:
    import_file(dms, "export.csv", export_csv(ROWS))
    moved = [list(row) for row in ROWS]
    moved[0][5] = "浙江省宁波市鄞州区天童南路8号"
    clock.advance(timedelta(days=1))
    result = import_file(dms, "export.csv", export_csv(moved))
    assert _counts(result.run) == (6, 0, 1, 2, 3)
    session.expire_all()
    records = _records(session, dms)
    first = records["C001"]
    assert first.raw["联系地址"] == "浙江省宁波市鄞州区天童南路8号"
    assert (first.normalized["city"], first.normalized["district"]) == ("宁波市", "鄞州区")
    assert first.updated_at == frozen_clock + timedelta(days=1) and first.first_seen_at == frozen_clock
    assert first.last_import_id == result.run.id
    assert records["C003"].updated_at == frozen_clock


def test_xlsx_exports_import_with_numbers_and_dates_as_people_see_them(
    session: Session, dms: Source, import_file: Importer
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客户编号", "客户姓名", "手机", "车架号", "购车日期"])
    sheet.append([1001, "周杰", 13800138000, vin_for(201), datetime(2024, 3, 1)])
    sheet.append([1002, "坏号码", 123.0, None, datetime(2024, 3, 2)])
    sheet.append([None, None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    result = import_file(dms, "export.xlsx", buffer.getvalue())
    assert _counts(result.run) == (2, 1, 0, 0, 1)
    record = _records(session, dms)["1001"]
    assert record.raw["手机"] == "13800138000" and record.raw["购车日期"] == "2024-03-01"
    assert (
        record.normalized["phone"] == "+8613800138000" and record.normalized["purchase_date"] == "2024-03-01"
    )
    assert [(p.row, p.field) for p in result.problems] == [(2, "phone"), (2, "row")]


def test_json_arrays_and_json_lines_import(session: Session, dms: Source, import_file: Importer) -> None:
    rows = [
        {"客户编号": "J1", "客户姓名": "陈静", "手机": 13800000005, "备注": {"来源": "小程序"}},
        {"客户编号": "J2", "客户姓名": "刘洋", "车架号": vin_for(302)},
    ]
    array = import_file(dms, "export.json", json.dumps(rows, ensure_ascii=False).encode())
    assert _counts(array.run) == (2, 2, 0, 0, 0)
    lines = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n"
    again = import_file(dms, "export.jsonl", lines.encode())
    assert _counts(again.run) == (2, 0, 0, 2, 0)
    assert _records(session, dms)["J1"].raw["备注"] == {"来源": "小程序"}


def test_id_numbers_are_never_stored_whole(session: Session, dms: Source, import_file: Importer) -> None:
    result = import_file(dms, "export.csv", export_csv(ROWS))
    stored = [json.dumps([r.raw, r.normalized], ensure_ascii=False) for r in _records(session, dms).values()]
    stored += [json.dumps(run.errors, ensure_ascii=False) for run in session.scalars(select(ImportRun))]
    stored += [json.dumps(e.changes, ensure_ascii=False) for e in session.scalars(select(AuditEntry))]
    stored += [p.value for p in result.problems]
    for number in (ID_NUMBER, BAD_ID_NUMBER):
        assert not any(number in text or number[:-1] in text for text in stored)
    record = _records(session, dms)["C001"]
    assert record.normalized["id_hash"] == id_hash(ID_NUMBER, get_settings().secret_key.encode())
    assert record.normalized["id_last4"] == ID_NUMBER[-4:] and record.raw["证件号码"].endswith(ID_NUMBER[-4:])


def test_each_run_is_audited_once_with_its_counts(
    session: Session, dms: Source, import_file: Importer
) -> None:
    result = import_file(dms, "export.csv", export_csv(ROWS))
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == result.run.id)).all()
    assert [e.action for e in entries] == ["source.import"]
    assert entries[0].changes["created"] == [None, 3] and entries[0].changes["rejected"] == [None, 3]
    count = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "source.import")
    )
    assert count == 1


def test_normalising_in_worker_processes_gives_the_same_import(
    session: Session, dms: Source, import_file: Importer
) -> None:
    rows = [[f"P{n:05d}", "顾客", f"138{n:08d}", "", "", "杭州市滨江区", "", ""] for n in range(4500)]
    rows[4400][0] = "P00001"  # repeats row 2's key, two batches later
    rows[10][2] = "12345"  # no identifier left
    data = export_csv(rows)
    alone = import_file(dms, "big.csv", data)
    session.execute(delete(SourceRecord).where(SourceRecord.source_id == dms.id))
    parallel = import_file(dms, "big.csv", data, workers=2)
    assert _counts(parallel.run) == _counts(alone.run) == (4500, 4498, 0, 0, 2)
    assert parallel.problems == alone.problems
    assert [(p.row, p.field) for p in parallel.problems] == [
        (11, "phone"),
        (11, "row"),
        (4401, "external_id"),
    ]
    assert parallel.problems[-1].reason == "rejected: repeats the key of row 2"
    assert len(_records(session, dms)) == 4498
