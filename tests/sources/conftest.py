"""A registered DMS source with a profile for its Chinese-headed export, and helpers to import files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.kit.idcard import make_id_number
from drivetrain.sources import service
from drivetrain.sources.files import read_rows
from drivetrain.sources.models import ImportVia, Source, SourceType
from drivetrain.sources.schemas import ProfileWrite, SourceCreate
from tests.world import vin_for

PROFILE = {
    "external_id": "客户编号",
    "name": "客户姓名",
    "phone": "手机",
    "id_number": "证件号码",
    "vin": "车架号",
    "address": "联系地址",
    "purchase_date": "购车日期",
}
HEADER = [*PROFILE.values(), "销售顾问"]
ID_NUMBER = make_id_number("330106", date(1990, 3, 7), 451)
BAD_ID_NUMBER = ID_NUMBER[:-1] + ("1" if ID_NUMBER[-1] != "1" else "2")
# customer no, name, phone, ID number, VIN, address, purchase date, consultant
ROWS = [
    [
        "C001",
        "張偉",
        "138 0013 8000",
        ID_NUMBER,
        vin_for(101),
        "浙江省杭州市滨江区江南大道100号",
        "2024/03/01",
        "李雷",
    ],
    ["C002", "王先生", "12345", "", "", "杭州市西湖区文三路90号", "2024/13/01", "韩梅梅"],  # rejected
    ["C003", "李娜", "13900001111", BAD_ID_NUMBER, vin_for(103), "", "2024/01/02", ""],  # ID dropped
    ["", "无编号", "13900002222", "", "", "", "", ""],  # rejected: no key
    ["C005", "赵六", "", "", "", "宁波市鄞州区天童南路8号", "", ""],  # rejected: no identifier
    [
        "C006",
        "Tony",
        "+86 137-0000-6666",
        "",
        vin_for(106).lower(),
        "四川省成都市武侯区二环路南四段9号",
        "",
        "",
    ],
]
GOOD = {"C001", "C003", "C006"}


def export_csv(rows: list[list[str]], encoding: str = "gbk") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


@pytest.fixture
def dms(session: Session) -> Source:
    source = service.register_source(
        session, SYSTEM, data=SourceCreate(name="dms-hz", type=SourceType.DMS, trust_rank=80)
    )
    profile = ProfileWrite.model_validate({"mapping": PROFILE, "options": {"date_format": "%Y/%m/%d"}})
    service.save_profile(session, SYSTEM, source, "default", data=profile)
    session.flush()
    return source


Importer = Callable[..., service.ImportResult]


@pytest.fixture
def import_file(session: Session, tmp_path: Path) -> Importer:
    """``import_file(source, "export.csv", data)``: what ``drivetrain import`` does, in the test's session."""

    def run(
        source: Source, name: str, data: bytes, *, profile: str | None = None, workers: int = 1
    ) -> service.ImportResult:
        resolved = service.resolve_profile(session, source, profile)
        path = tmp_path / name
        path.write_bytes(data)
        rows = read_rows(path, data, encoding=resolved.options.encoding, sheet=resolved.options.sheet)
        origin = service.ImportOrigin(via=ImportVia.FILE, file_name=name)
        result = service.import_records(
            session,
            SYSTEM,
            source,
            list(enumerate(rows, start=1)),
            profile=resolved,
            origin=origin,
            workers=workers,
        )
        session.flush()
        return result

    return run
