"""Identity resolution on small hand-made tables (default parameters: too few rows for EM)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.filemode import read_table, resolve_file
from drivetrain.unify.normalize import normalize_records
from drivetrain.unify.resolve import connect, resolve

COLUMNS = ("record_id", "source", "name", "phone", "vin", "address", "city", "wechat_id")
VIN_A = "LVSHZ8E60KB040674"
VIN_B = "LFV2A21K8HH042665"
CONFIG = ResolveConfig(threads=1, memory_limit="256MB")


def table(*rows: tuple[str | None, ...]) -> pa.Table:
    return pa.table(
        {column: pa.array([row[i] for row in rows], pa.string()) for i, column in enumerate(COLUMNS)}
    )


def keys(records: pa.Table, previous: pa.Table | None = None) -> dict[str, str]:
    con = connect(CONFIG)
    con.register("input_records", records)
    resolution = resolve(con, "input_records", CONFIG, previous=previous)
    return dict(zip(*resolution.assignments.to_pydict().values(), strict=True))


def test_same_person_across_sources_with_phone_formats() -> None:
    result = keys(
        table(
            ("d1", "dms", "王伟", "138-0013-8000", VIN_A, "广州市天河区天河路123号", "广州市", None),
            ("i1", "insurance", "王 偉", "+86 138 0013 8000", VIN_A.lower(), None, "广州", None),
            ("f1", "finance", "王伟", "8613800138000", None, "广东省广州市天河区天河路123号", None, None),
            ("x1", "dms", "赵敏", "13911112222", VIN_B, None, "北京市", None),
        )
    )
    assert result["d1"] == result["i1"] == result["f1"]
    assert result["x1"] != result["d1"]


def test_family_sharing_a_phone_stays_apart() -> None:
    result = keys(
        table(
            ("a", "dms", "王伟", "13800138000", VIN_A, "广州市天河区天河路123号", "广州市", None),
            ("b", "dms", "李娜", "13800138000", VIN_B, "广州市天河区天河路123号", "广州市", None),
        )
    )
    assert result["a"] != result["b"]


def test_resold_vin_stays_apart() -> None:
    result = keys(
        table(
            ("seller", "dms", "王伟", "13800138000", VIN_A, None, "广州市", None),
            ("buyer", "used_car", "刘强", "13698765432", VIN_A, None, "广州市", None),
        )
    )
    assert result["seller"] != result["buyer"]


def test_salutation_only_wecom_name_joins_by_phone() -> None:
    result = keys(
        table(
            ("d1", "dms", "王伟", "13800138000", VIN_A, None, "广州市", None),
            ("w1", "wecom", "王先生", "138 0013 8000", None, None, None, "oUnion123"),
            ("w2", "wecom", "李女士", "13800138000", None, None, None, "oUnion456"),
        )
    )
    assert result["w1"] == result["d1"]
    assert result["w2"] != result["d1"]


def test_salutation_never_bridges_two_people() -> None:
    """王先生 shares the family phone of father and son; he may join one, never both."""
    result = keys(
        table(
            ("father", "dms", "王建国", "13800138000", VIN_A, None, "广州市", None),
            ("son", "dms", "王伟", "13800138000", VIN_B, None, "广州市", None),
            ("w1", "wecom", "王先生", "13800138000", None, None, None, "oUnion123"),
        )
    )
    assert result["father"] != result["son"]


def test_keys_are_stable_when_a_record_joins_an_existing_customer() -> None:
    first = table(
        ("b2", "dms", "王伟", "13800138000", VIN_A, None, "广州市", None),
        ("b3", "insurance", "王伟", "13800138000", VIN_A, None, "广州市", None),
    )
    before = keys(first)
    previous = pa.table({"record_id": list(before), "customer_key": list(before.values())})
    # a new record sorting before both; unstable keys would follow the smallest record_id
    after = keys(
        pa.concat_tables([first, table(("a1", "erp", "王伟", "13800138000", None, None, None, None))]),
        previous,
    )
    assert after["a1"] == after["b2"] == after["b3"] == before["b2"]


def test_keys_derive_from_the_smallest_record_id() -> None:
    records = table(
        ("r2", "dms", "王伟", "13800138000", VIN_A, None, "广州市", None),
        ("r1", "erp", "王伟", "13800138000", None, None, None, None),
    )
    assert keys(records) == keys(table(*reversed([tuple(row.values()) for row in records.to_pylist()])))


SAMPLE = table(
    ("d1", "dms", "王伟", "138-0013-8000", VIN_A, "广州市天河区天河路123号", "广州市", None),
    ("w1", "wecom", "王先生", "+86 138 0013 8000", None, None, None, "oUnion123"),
    ("x1", "dms", "赵敏", "13911112222", VIN_B, None, "北京市", None),
)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resolve_file_round_trip(tmp_path: Path, suffix: str) -> None:
    source, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".csv":
        pacsv.write_csv(SAMPLE, source)
    else:
        pq.write_table(SAMPLE, source)
    summary = resolve_file(source, out, CONFIG)
    written = read_table(out)
    assert written.column_names == ["record_id", "customer_key"]
    result = dict(zip(*written.to_pydict().values(), strict=True))
    assert (summary.records, summary.clusters) == (3, 2)
    assert result["d1"] == result["w1"] != result["x1"]


def test_gbk_csv_is_read(tmp_path: Path) -> None:
    source = tmp_path / "gbk.csv"
    lines = [",".join(COLUMNS)] + [
        ",".join(value or "" for value in row.values()) for row in SAMPLE.to_pylist()
    ]
    source.write_bytes("\n".join(lines).encode("gbk"))
    assert read_table(source).column("name").to_pylist() == ["王伟", "王先生", "赵敏"]
    summary = resolve_file(source, tmp_path / "out.csv", CONFIG)
    assert summary.clusters == 2


def test_family_car_and_phone_do_not_merge_father_and_son() -> None:
    """Same VIN and same phone is a deterministic link, unless the names say two people."""
    result = keys(
        table(
            ("father", "dms", "王建国", "13800138000", VIN_A, None, "广州市", None),
            ("son", "insurance", "王伟", "13800138000", VIN_A, None, "广州市", None),
            ("again", "erp", "王建国", "138-0013-8000", VIN_A, None, None, None),
        )
    )
    assert result["father"] == result["again"] != result["son"]


def test_normalisation_brings_fields_to_one_form() -> None:
    con = connect(CONFIG)
    con.register(
        "input_records",
        table(
            (
                "r1",
                "erp",
                "張 偉",
                "（+86）138-0013-8000",
                " lvs hz8e60kb040674",
                "廣東省廣州市天河區天河路１２３號",
                "广州",
                None,
            ),
            ("r2", "wecom", "王先生", "010-6552 9988", None, "北京市朝阳区建国路88号", None, "oUnion"),
        ),
    )
    normalize_records(con, "input_records", "records_norm", max_shared=CONFIG.max_shared_identifier)
    rows = con.sql(
        "SELECT name_full, name_key, surname_key, gender, phone, vin, street, district, city"
        " FROM records_norm ORDER BY record_id"
    ).fetchall()
    assert rows == [
        ("张伟", "zhangwei", "zhang", None, "+8613800138000", VIN_A, "天河路123号", "天河区", "广州"),
        (None, None, "wang", "M", "+861065529988", None, "建国路88号", "朝阳区", "北京"),
    ]
