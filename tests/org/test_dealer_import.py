"""`drivetrain import dealers`: every row validated, bad rows reported by number, the rest loaded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from drivetrain.auth.subject import SYSTEM
from drivetrain.cli import app as cli
from drivetrain.db import Database
from drivetrain.kit.importing import read_records
from drivetrain.org.importer import import_dealers
from drivetrain.org.models import Dealer, Region
from tests.conftest import SHARED

REAL_NETWORK = SHARED / "data" / "dealers_changan_ford_2018.json"
PACKAGED = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "drivetrain"
    / "org"
    / "data"
    / "dealers_changan_ford_2018.json"
)


def _row(code: str, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "region": "东区",
        "area_code": "E9",
        "province": "浙江",
        "city": "杭州",
        "dealer_code": code,
        "dealer_name": "杭州测试福特",
        "address": "杭州市西湖区文三路1号",
        "longitude": 120.13,
        "latitude": 30.27,
        "sales_tel": "0571-88888888",
        "service_tel": "0571-88888889",
        "fax": "",
    }
    row.update(changes)
    return row


def test_real_network_loads_and_reports_the_repeated_code(session: Session) -> None:
    source = REAL_NETWORK if REAL_NETWORK.exists() else PACKAGED
    records = read_records(source)
    report = import_dealers(session, SYSTEM, records)
    assert len(records) == 573
    assert [(e.row, e.field) for e in report.errors] == [(64, "dealer_code")]
    assert "A08752" in report.errors[0].reason and "row 63" in report.errors[0].reason
    assert report.created == 572
    assert session.scalar(select(func.count()).select_from(Region).where(Region.name == "华中区")) == 1
    hangzhou = session.scalars(select(Dealer).where(Dealer.city == "杭州市")).all()
    assert hangzhou and all(d.adcode and d.adcode.startswith("3301") for d in hangzhou)
    trimmed = session.scalar(select(Dealer).where(Dealer.code == "A16655"))  # "A16655 " in the file
    assert trimmed is not None


def test_shared_copy_matches_the_packaged_network() -> None:
    if not REAL_NETWORK.exists():
        pytest.skip(f"{REAL_NETWORK} is absent (a user's clone has no ../shared)")
    assert json.loads(REAL_NETWORK.read_text("utf-8")) == json.loads(PACKAGED.read_text("utf-8"))


def test_bad_rows_are_reported_and_good_rows_kept(session: Session) -> None:
    records = [
        _row("Z00001"),
        _row("Z00002", latitude=121.5, longitude=31.2),  # swapped coordinates
        _row("Z00003", dealer_name=""),
        _row("bad code!"),
        _row("Z00004"),
    ]
    report = import_dealers(session, SYSTEM, records)
    assert report.created == 2
    assert {(e.row, e.field) for e in report.errors} == {
        (2, "latitude"),
        (2, "longitude"),
        (3, "dealer_name"),
        (4, "dealer_code"),
    }
    codes = set(session.scalars(select(Dealer.code).where(Dealer.code.like("Z%"))))
    assert codes == {"Z00001", "Z00004"}


def test_reimport_updates_changed_rows_only(session: Session) -> None:
    import_dealers(session, SYSTEM, [_row("Z00001"), _row("Z00002")])
    report = import_dealers(session, SYSTEM, [_row("Z00001"), _row("Z00002", sales_tel="0571-12345678")])
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert session.scalar(select(Dealer.sales_phone).where(Dealer.code == "Z00002")) == "0571-12345678"


def test_cli_imports_csv(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "dealers.csv"
    rows = [_row("Z00001"), _row("Z00001", dealer_name="重复"), _row("Z00002", latitude="north")]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(cli, ["import", "dealers", str(path)])
    assert result.exit_code == 0, result.output
    assert "row 2" in result.output and "duplicate dealer code Z00001" in result.output
    assert "row 3" in result.output and "latitude" in result.output
    assert "1 created" in result.output and "2 rejected" in result.output


def test_a_gbk_csv_export_reads_like_utf8(session: Session, tmp_path: Path) -> None:
    """Chinese DMS and spreadsheet exports are often GBK: the same rows load either way."""
    row = _row("G0001")
    header = ",".join(row)
    line = ",".join(str(value) for value in row.values())
    for encoding in ("utf-8-sig", "gbk"):
        source = tmp_path / f"dealers-{encoding}.csv"
        source.write_bytes(f"{header}\n{line}\n".encode(encoding))
        assert read_records(source) == [{key: str(value) for key, value in row.items()}]
    report = import_dealers(session, SYSTEM, read_records(tmp_path / "dealers-gbk.csv"))
    assert report.created == 1 and not report.errors
    assert session.scalar(select(Dealer.name).where(Dealer.code == row["dealer_code"])) == "杭州测试福特"
