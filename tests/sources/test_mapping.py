"""The pure part of an import: a profile's columns through each field's normaliser, rows kept or rejected."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivetrain.kit.idcard import id_check_char, id_hash, normalize_id_number
from drivetrain.kit.plate import PROVINCES, normalize_plate
from drivetrain.kit.vin import make_vin, normalize_vin
from drivetrain.sources import normalizers
from drivetrain.sources.mapping import IDENTITY_MAPPING, KeyLedger, MappedBatch, Mapper, check_mapping
from tests.world import vin_for

KEY = b"test-key"
ID_NUMBER = "330106199003074517"
VIN = vin_for(42)  # LVSHCAE40RC000042
PROFILE = {
    "external_id": "客户编号",
    "name": "客户姓名",
    "phone": "手机",
    "id_number": "证件号码",
    "vin": "车架号",
    "address": "地址",
    "city": "城市",
    "purchase_date": "购车日期",
}


def _map(rows: list[dict[Any, Any]], mapping: dict[str, str] = PROFILE, **options: Any) -> MappedBatch:
    batch = Mapper(mapping, id_key=KEY, **options).map(enumerate(rows, start=1))
    KeyLedger().admit(batch)
    return batch


def _row(**cells: str) -> dict[str, str]:
    base = {column: "" for column in PROFILE.values()} | {"顾问": "李雷"}
    names = {field: column for field, column in PROFILE.items()}
    return base | {names[field]: value for field, value in cells.items()}


def test_a_clean_row_is_normalised_field_by_field() -> None:
    batch = _map(
        [
            _row(
                external_id="C001",
                name="張 偉",
                phone="+86 138-0013-8000",
                id_number=ID_NUMBER.lower(),
                vin=f"{VIN[:3]} {VIN[3:9]} {VIN[9:]}",
                address="杭州市滨江区江南大道100号",
                purchase_date="2024/3/1",
            )
        ]
    )
    assert batch.rejected == [] and batch.problems == []
    (row,) = batch.rows
    assert row.external_id == "C001"
    assert row.normalized == {
        "name": "张伟",
        "name_key": "zhangwei",
        "surname": "张",
        "surname_key": "zhang",
        "phone": "+8613800138000",
        "id_hash": id_hash(ID_NUMBER, KEY),
        "id_last4": "4517",
        "vin": VIN,
        "purchase_date": "2024-03-01",
        "province": "浙江省",
        "city": "杭州市",
        "district": "滨江区",
        "adcode": "330108",
        "street": "江南大道100号",
    }
    assert row.raw["顾问"] == "李雷"  # a free per-source field stays in raw
    assert row.raw["客户姓名"] == "張 偉"  # raw is as sent


def test_the_id_number_is_never_kept_whole() -> None:
    batch = _map(
        [_row(external_id="1", id_number=ID_NUMBER), _row(external_id="2", id_number=ID_NUMBER[:-1] + "X")]
    )
    assert [row.raw["证件号码"] for row in batch.rows] == ["**************4517"]
    assert batch.rejected == [2]
    bad = [p for p in batch.problems if p.field == "id_number"]
    assert bad and bad[0].value == "**************451X" and "check character" in bad[0].reason
    assert ID_NUMBER not in str(batch) and ID_NUMBER[:-1] not in str(batch)


def test_a_salutation_is_recognised() -> None:
    (row,) = _map([_row(external_id="1", name="王先生", phone="13800138000")]).rows
    assert row.normalized["salutation"] == "先生" and row.normalized["gender"] == "M"
    assert row.normalized["surname"] == "王" and "name_key" not in row.normalized


def test_a_row_is_rejected_only_when_no_identifier_survives() -> None:
    batch = _map(
        [
            _row(external_id="1", name="坏号码", phone="12345", vin=VIN),  # phone bad, VIN good: kept
            _row(external_id="2", name="都坏了", phone="12345", vin="LVSHCAE40RC00004"),
            _row(external_id="3", name="只有名字", address="杭州市西湖区"),
        ]
    )
    assert [row.row for row in batch.rows] == [1]
    assert "phone" not in batch.rows[0].normalized and batch.rows[0].normalized["vin"] == VIN
    assert batch.rejected == [2, 3]
    reasons = {(p.row, p.field): p.reason for p in batch.problems}
    assert "11 digits" in reasons[(1, "phone")]
    assert "17 characters" in reasons[(2, "vin")]
    assert reasons[(2, "row")].startswith("rejected: every identifier is missing or bad")
    assert reasons[(3, "row")].startswith("rejected: no identifier")


def test_the_key_column_must_be_filled_and_unique_across_batches() -> None:
    mapper, ledger = Mapper(PROFILE, id_key=KEY), KeyLedger()
    first = mapper.map([(1, _row(external_id="C1", phone="13800138000"))])
    second = mapper.map(
        [(2, _row(external_id="C1", phone="13900139000")), (3, _row(external_id=" ", phone="13700137000"))]
    )
    ledger.admit(first)
    ledger.admit(second)
    assert [row.external_id for row in first.rows] == ["C1"] and second.rows == []
    assert sorted(second.rejected) == [2, 3]
    assert sorted((p.row, p.field, p.reason) for p in second.problems) == [
        (2, "external_id", "rejected: repeats the key of row 1"),
        (3, "external_id", "rejected: the key column is empty"),
    ]


def test_without_a_key_column_the_row_itself_is_the_key() -> None:
    mapping = {k: v for k, v in PROFILE.items() if k != "external_id"}
    same = _row(phone="13800138000")
    batch = _map([same, dict(same), _row(phone="13900139000")], mapping)
    assert [row.row for row in batch.rows] == [1, 3]
    assert batch.rows[0].external_id.startswith("sha256:")
    assert batch.problems[0].reason == "rejected: repeats the key of row 1"
    # Two ID numbers with the same last four mask alike, but are two rows.
    other = "110101196511234517"
    assert other[-4:] == ID_NUMBER[-4:]
    twins = _map([_row(id_number=ID_NUMBER), _row(id_number=other)], mapping)
    assert len({row.external_id for row in twins.rows}) == 2


def test_the_row_hash_changes_with_the_row_and_the_mapping_only() -> None:
    row = _row(external_id="1", phone="13800138000", address="杭州市滨江区")
    (a,) = _map([row]).rows
    (b,) = _map([dict(row)]).rows
    (moved,) = _map([row | {"地址": "杭州市西湖区"}]).rows
    (remapped,) = _map([row], PROFILE | {"plate": "车牌"}).rows
    assert a.row_hash == b.row_hash
    assert moved.row_hash != a.row_hash and remapped.row_hash != a.row_hash


def test_a_vin_with_look_alike_letters_is_corrected_when_the_check_digit_agrees() -> None:
    typed = VIN[:11] + "O" + VIN[12:]  # 0 typed as the letter O
    batch = _map([_row(external_id="1", vin=typed)])
    (row,) = batch.rows
    assert row.normalized["vin"] == VIN and row.normalized["vin_corrected"] is True
    (note,) = batch.problems
    assert note.field == "vin" and note.reason.startswith("corrected: position 12: 'O'")
    wrong = VIN[:11] + "O" + "1" + VIN[13:]
    unfixable = _map([_row(external_id="1", vin=wrong, phone="13800138000")])
    assert "vin" not in unfixable.rows[0].normalized
    assert "letter 'O' at position 12" in unfixable.problems[0].reason


def test_city_and_province_columns_complete_a_short_address() -> None:
    mapping = PROFILE | {"province": "省份"}
    batch = _map(
        [
            _row(external_id="1", phone="13800138000", address="滨江区江南大道100号", city="杭州")
            | {"省份": "浙江省"},
            _row(external_id="2", phone="13800138001", address="浙江省杭州市西湖区文三路90号", city="杭州市")
            | {"省份": "浙江"},
            _row(external_id="3", phone="13800138002", city="宁波市") | {"省份": ""},
        ],
        mapping,
    )
    places = [
        (r.normalized.get("city"), r.normalized.get("district"), r.normalized.get("street"))
        for r in batch.rows
    ]
    assert places == [
        ("杭州市", "滨江区", "江南大道100号"),
        ("杭州市", "西湖区", "文三路90号"),
        ("宁波市", None, ""),
    ]


def test_an_address_no_division_is_found_in_stays_whole_as_the_street() -> None:
    (row,) = _map([_row(external_id="1", phone="13800138000", address="江南大道１００号 ")]).rows
    assert row.normalized == row.normalized | {"street": "江南大道100号"}
    assert "adcode" not in row.normalized


def test_dates_follow_the_profile_format() -> None:
    batch = _map(
        [_row(external_id="1", phone="13800138000", purchase_date="01.03.2024")], date_format="%d.%m.%Y"
    )
    assert batch.rows[0].normalized["purchase_date"] == "2024-03-01"
    refused = _map(
        [_row(external_id="1", phone="13800138000", purchase_date="2024/03/01")], date_format="%d.%m.%Y"
    )
    assert refused.problems[0].reason == "not a date in the format %d.%m.%Y"
    future = _map([_row(external_id="1", phone="13800138000", purchase_date="2999-01-01")])
    assert "in the future" in future.problems[0].reason


def test_blank_lines_are_skipped_and_overlong_rows_rejected() -> None:
    blank = dict.fromkeys([*PROFILE.values(), "顾问"], "")
    batch = _map([blank, _row(external_id="1", phone="13800138000") | {None: ["", "溢出"]}])
    assert batch.rows == [] and batch.rejected == [2]
    assert batch.problems[0].reason == "rejected: more cells than the header has columns"
    trailing = _map([_row(external_id="1", phone="13800138000") | {None: ["", " "]}])
    assert [row.row for row in trailing.rows] == [1] and None not in trailing.rows[0].raw


def test_json_values_are_read_as_text() -> None:
    batch = _map(
        [{"phone": 13800138000, "external_id": 7, "wechat_unionid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"}],
        IDENTITY_MAPPING,
    )
    (row,) = batch.rows
    assert row.external_id == "7" and row.normalized["phone"] == "+8613800138000"
    assert row.raw["phone"] == 13800138000


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"phone": "手机", "mobile": "电话"}, "unknown field 'mobile'"),
        ({"name": "姓名", "address": "地址"}, "map at least one identifier"),
        ({"external_id": "证件号码", "id_number": "证件号码"}, "cannot be the key"),
        ({"external_id": "编号", "email": "邮箱"}, None),
    ],
)
def test_check_mapping(mapping: dict[str, str], problem: str | None) -> None:
    found = check_mapping(mapping)
    assert found is None if problem is None else problem in (found or "")


def _kit_or_none(normalize: Any, text: str) -> str | None:
    try:
        return str(normalize(text))
    except ValueError:
        return None


VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@given(st.text(alphabet=VIN_CHARS + "abcxyzOIQ ", min_size=16, max_size=18))
def test_the_vin_fast_path_agrees_with_the_kit(typed: str) -> None:
    expected = _kit_or_none(normalize_vin, typed)
    try:
        found = normalizers.vin(typed)
    except ValueError:
        found = None
    if expected is not None:
        assert found == {"vin": expected}
    else:
        assert found is None or found.get("vin_corrected") is True


@given(
    st.text(alphabet=VIN_CHARS, min_size=3, max_size=3), st.text(alphabet=VIN_CHARS, min_size=13, max_size=13)
)
def test_vins_with_a_right_check_digit_take_the_fast_path_to_the_kit_answer(wmi: str, rest: str) -> None:
    vin = make_vin(wmi, rest[:5], rest[5], rest[6], rest[7:])
    assert normalizers.vin(vin.lower()) == {"vin": normalize_vin(vin)}


@given(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=date(1899, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(0, 999),
    st.sampled_from(["", "x", "X", "0", " "]),
)
def test_the_id_number_fast_path_agrees_with_the_kit(
    region: str, birth: date, sequence: int, end: str
) -> None:
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    for typed in (first17 + id_check_char(first17), first17 + end):
        expected = _kit_or_none(normalize_id_number, typed)
        try:
            found: str | None = normalizers.id_number(typed, KEY)["id_hash"]
        except ValueError:
            found = None
        assert found == (id_hash(expected, KEY) if expected else None)


@given(st.text(alphabet=PROVINCES[:6] + "ABDFIO0123456789学港·- ", min_size=6, max_size=10))
def test_the_plate_fast_path_agrees_with_the_kit(typed: str) -> None:
    expected = _kit_or_none(normalize_plate, typed)
    try:
        found: str | None = normalizers.plate(typed)["plate"]
    except ValueError:
        found = None
    assert found == expected
