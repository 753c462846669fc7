"""Reading exports: the encoding of a CSV is detected (UTF-8, with or without BOM, else GBK/GB18030) unless
a profile names it; spreadsheets and JSON give rows of the text people see."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]

from drivetrain.kit.errors import InvalidInput
from drivetrain.sources.files import read_rows

CSV_TEXT = "客户编号, 客户姓名 ,手机\nC1,張偉,13800138000\nC2,王芳,13900139000,多出来的\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(encoding: str) -> None:
    rows = read_rows(Path("x.csv"), CSV_TEXT.encode(encoding))
    assert rows[0] == {"客户编号": "C1", "客户姓名": "張偉", "手机": "13800138000"}  # header names trimmed
    assert rows[1][None] == ["多出来的"]


def test_a_profile_may_name_the_encoding() -> None:
    data = CSV_TEXT.encode("gbk")
    assert read_rows(Path("x.csv"), data, encoding="gb18030")[0]["客户姓名"] == "張偉"
    with pytest.raises(InvalidInput, match="not utf-8 text"):
        read_rows(Path("x.csv"), data, encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("x.csv", b"a,a\n1,2\n", "column 'a' appears twice"),
        ("x.csv", b"a,b\n1\x00,2\n", "NUL characters"),
        ("x.json", b'"text"', "expected a JSON array of objects"),
        ("x.json", b"[1, 2]", "expected a JSON array of objects"),
        ("x.jsonl", b'{"a": 1}\n{"a": \n', "not readable as JSON"),
        ("x.xlsx", b"not a zip", "not readable as XLSX"),
        ("x.doc", b"", "unsupported file type"),
    ],
)
def test_unreadable_files_say_why(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        read_rows(Path(name), data)


def test_json_arrays_and_lines() -> None:
    assert read_rows(Path("x.json"), '[{"手机": 13800138000}]'.encode()) == [{"手机": 13800138000}]
    lines = b'{"a": "1"}\n\n{"a": "2"}\n'
    assert read_rows(Path("x.ndjson"), lines) == [{"a": "1"}, {"a": "2"}]


def _workbook(*sheets: str) -> bytes:
    book = Workbook()
    book.active.title = sheets[0]
    for title in sheets[1:]:
        book.create_sheet(title)
    book[sheets[-1]].append(["编号", "手机", "日期", "时间", "金额", None])
    book[sheets[-1]].append([7, 13800138000, date(2024, 3, 1), datetime(2024, 3, 1, 9, 30), 1.5, "溢出"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_spreadsheet_cells_read_as_people_see_them() -> None:
    (row,) = read_rows(Path("x.xlsx"), _workbook("客户"))
    assert row == {
        "编号": "7",
        "手机": "13800138000",
        "日期": "2024-03-01",
        "时间": "2024-03-01 09:30:00",
        "金额": "1.5",
        None: ["溢出"],
    }


def test_a_profile_may_name_the_sheet() -> None:
    data = _workbook("说明", "客户")
    assert read_rows(Path("x.xlsx"), data) == []  # the first sheet is empty
    assert read_rows(Path("x.xlsx"), data, sheet="客户")[0]["编号"] == "7"
    with pytest.raises(InvalidInput, match="no sheet '车辆'; sheets: 说明, 客户"):
        read_rows(Path("x.xlsx"), data, sheet="车辆")
