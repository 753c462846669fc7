"""File mode: resolve a CSV or Parquet export without a database, for dry runs.

Reads ``record_id, source, name, phone, vin, address, city, wechat_id`` (and optionally
``id_number, email, plate``) and writes ``record_id, customer_key``. CSV exports from
Chinese systems are often GBK; the encoding is detected, not assumed.
"""

from __future__ import annotations

import codecs
import csv
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drivetrain.unify.config import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, ResolveConfig
from drivetrain.unify.resolve import connect, resolve

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ResolveSummary:
    records: int
    clusters: int
    review_pairs: int
    seconds: float
    peak_memory_mb: float


def resolve_file(
    input_path: Path,
    out: Path,
    config: ResolveConfig,
    *,
    previous: Path | None = None,
    review_out: Path | None = None,
) -> ResolveSummary:
    """Resolve ``input_path`` into ``out`` (CSV or Parquet by its suffix); ``previous``, an
    earlier output, keeps customer keys stable; ``review_out`` receives borderline pairs."""
    started = time.perf_counter()
    con = connect(config)
    _load(con, input_path)
    previous_table = read_table(previous) if previous is not None else None
    resolution = resolve(con, "input_records", config, previous=previous_table)
    write_table(resolution.assignments, out)
    if review_out is not None:
        write_table(resolution.review, review_out)
    con.close()
    return ResolveSummary(
        records=resolution.records,
        clusters=resolution.clusters,
        review_pairs=resolution.review.num_rows,
        seconds=time.perf_counter() - started,
        peak_memory_mb=_peak_memory_mb(config),
    )


def _peak_memory_mb(config: ResolveConfig) -> float:
    """This process's peak, plus the Spark driver JVM's (a process of its own) on Spark."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if config.engine == "spark":
        from drivetrain.unify.spark_engine import driver_peak_rss_mb

        peak += driver_peak_rss_mb()
    return peak


def _load(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Parquet straight into DuckDB (only the columns used); CSV through Arrow, as text."""
    if path.suffix.lower() == ".parquet":
        available = set(pq.read_schema(path).names)
        columns = [column for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if column in available]
        select = ", ".join(f'"{column}"' for column in columns) or "*"
        con.execute(f"CREATE TEMP TABLE input_records AS SELECT {select} FROM read_parquet(?)", [str(path)])
        return
    con.register("input_arrow", read_table(path))
    con.execute("CREATE TEMP TABLE input_records AS SELECT * FROM input_arrow")
    con.unregister("input_arrow")


def read_table(path: Path) -> pa.Table:
    """A CSV (UTF-8, with or without BOM, or GB18030/GBK) or Parquet file as an Arrow table
    of text columns, so leading zeros and long numbers survive."""
    if path.suffix.lower() == ".parquet":
        return pq.read_table(path)
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{path.name}: unsupported file type (use .csv or .parquet)")
    encoding = detect_encoding(path)
    with path.open(encoding="utf-8-sig" if encoding == "utf8" else encoding, newline="") as handle:
        names = next(csv.reader(handle), [])
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        ),
    )


def detect_encoding(path: Path) -> str:
    """utf8 when the whole file decodes as UTF-8 (Arrow skips a BOM), else gb18030, a
    superset of GBK."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf8"


def write_table(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)
