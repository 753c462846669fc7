"""The Splink model on local Spark gives the customers DuckDB gives (``engine="spark"``).

One SparkSession for the module: a JVM takes seconds to start.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from drivetrain.cli import app as cli
from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.filemode import read_table
from drivetrain.unify.resolve import Resolution, connect, resolve

pytestmark = pytest.mark.xdist_group("spark")
"""One worker runs these: the module's SparkSession (a JVM) starts once, not once per worker."""

pytest.importorskip("pyspark", reason="the spark engine needs pyspark: pip install 'drivetrain[spark]'")
if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
    pytest.skip("the spark engine needs Java 17: no java on PATH, JAVA_HOME unset", allow_module_level=True)

COLUMNS = ("record_id", "source", "name", "phone", "vin", "address", "city", "wechat_id")
VIN_A = "LVSHZ8E60KB040674"
VIN_B = "LFV2A21K8HH042665"
VIN_C = "LSGPC52U6AF102554"
DUCKDB = ResolveConfig(threads=1, memory_limit="256MB")
SPARK = ResolveConfig(threads=1, memory_limit="256MB", engine="spark")

ROWS = [
    # one person across sources, phone formats, a Traditional-character name
    ("d1", "dms", "王伟", "138-0013-8000", VIN_A, "广州市天河区天河路123号", "广州市", None),
    ("i1", "insurance", "王 偉", "+86 138 0013 8000", VIN_A.lower(), None, "广州", None),
    ("f1", "finance", "王伟", "8613800138000", None, "广东省广州市天河区天河路125号", None, None),
    ("w1", "wecom", "王先生", "138 0013 8000", None, None, None, "oUnion123"),
    # his wife on the family phone, at the same address: another person
    ("d2", "dms", "李娜", "13800138000", VIN_B, "广州市天河区天河路123号", "广州市", None),
    ("w2", "wecom", "李女士", "13800138000", None, None, None, "oUnion456"),
    # his old car, resold: the buyer keeps the VIN, not the person
    ("u1", "used_car", "刘强", "13698765432", VIN_A, None, "广州市", None),
    ("e1", "erp", "刘强", "136 9876 5432", None, "广州市海珠区江南大道中88号", "广州市", None),
    # a stranger with a common name elsewhere
    ("x1", "dms", "王伟", "13911112222", VIN_C, "北京市朝阳区建国路1号", "北京市", None),
    ("x2", "mini_program", None, "13911112222", None, None, "北京", "oUnion789"),
]
TRICKY = pa.table(
    {column: pa.array([row[i] for row in ROWS], pa.string()) for i, column in enumerate(COLUMNS)}
)


@pytest.fixture(scope="module", autouse=True)
def spark_session() -> Iterator[None]:
    from drivetrain.unify.spark_engine import spark_session

    session = spark_session(SPARK)
    yield
    session.stop()


def run(config: ResolveConfig, records: pa.Table) -> Resolution:
    con = connect(config)
    con.register("input_records", records)
    return resolve(con, "input_records", config)


@pytest.fixture(scope="module")
def both() -> tuple[Resolution, Resolution]:
    """The tricky records resolved on DuckDB and on Spark."""
    return run(DUCKDB, TRICKY), run(SPARK, TRICKY)


def people(resolution: Resolution) -> set[frozenset[str]]:
    """The partition of record ids into customers, whatever the keys are called."""
    members: dict[str, set[str]] = {}
    for record_id, key in zip(*resolution.assignments.to_pydict().values(), strict=True):
        members.setdefault(key, set()).add(record_id)
    return {frozenset(records) for records in members.values()}


def test_spark_gives_the_customers_duckdb_gives(both: tuple[Resolution, Resolution]) -> None:
    on_duckdb, on_spark = both
    assert people(on_spark) == people(on_duckdb)
    assert people(on_spark) >= {
        frozenset({"d1", "i1", "f1", "w1"}),  # 王 偉 is 王伟; the salutation joins by phone
        frozenset({"d2", "w2"}),  # the family phone does not merge husband and wife
        frozenset({"u1", "e1"}),  # the resold VIN does not merge seller and buyer
    }
    assert on_spark.assignments.equals(on_duckdb.assignments)  # keys derive from record ids alike


def test_spark_scores_pairs_as_duckdb_does(both: tuple[Resolution, Resolution]) -> None:
    """The same model: the borderline pairs, and their probabilities, agree."""
    on_duckdb, on_spark = both
    duckdb_review, spark_review = (
        sorted(
            zip(*r.review.select(["record_id_l", "record_id_r", "reason"]).to_pydict().values(), strict=True)
        )
        for r in (on_duckdb, on_spark)
    )
    assert spark_review == duckdb_review
    assert spark_review  # the fixture does reach the review band
    assert sorted(on_spark.review.column("match_probability").to_pylist()) == pytest.approx(
        sorted(on_duckdb.review.column("match_probability").to_pylist())
    )


def test_cli_resolves_a_file_on_spark(tmp_path: Path) -> None:
    source, out = tmp_path / "records.csv", tmp_path / "customers.csv"
    pacsv.write_csv(TRICKY, source)
    result = CliRunner().invoke(
        cli, ["unify", "resolve-file", str(source), "--out", str(out), "--engine", "spark"]
    )
    assert result.exit_code == 0, result.output
    assert "records:      10" in result.output
    written = dict(zip(*read_table(out).to_pydict().values(), strict=True))
    assert written["d1"] == written["i1"] == written["w1"] != written["d2"]
    assert written["u1"] == written["e1"] != written["d1"]


def test_cli_refuses_an_unknown_engine(tmp_path: Path) -> None:
    source = tmp_path / "records.csv"
    pacsv.write_csv(TRICKY, source)
    result = CliRunner().invoke(
        cli, ["unify", "resolve-file", str(source), "--out", str(tmp_path / "o.csv"), "--engine", "polars"]
    )
    assert result.exit_code == 2
    assert "--engine" in result.output
