"""Import throughput with normalisation: 100,000 noisy DMS rows from a GBK export, on SQLite and PostgreSQL.

The export is what a Chinese DMS writes: GB18030 text, Chinese headers, Traditional characters from
Hong Kong-built systems, phones typed every which way, VINs in groups and with check-digit typos,
ID numbers with a lower-case x, addresses with and without province and city, salutation-only names,
a bad phone here and there, and rows with no identifier at all (people from bench/identity_generator.py).
Each backend starts from an empty database with the source and its profile registered, then:

- ``first``: the whole file through the real path (decode, map, normalise, upsert, commit): every row created;
- ``again``: the same file: every row unchanged, nothing written;
- ``changed``: 1% of the rows with a new address: exactly those updated.

Rows per second are rows read over the wall time of each import, file reading included; a file this
large is normalised in one forked worker per core while the main process writes. Loading the
normalisers' tables (OpenCC, cpca) is a one-off of the process, timed apart as ``warm_up_s``. Bar:
the first import at >= 20,000 rows/s. The machine's other load shows in ``load_before`` (the 1-minute
load average) and in ``cpu_s``, the CPU seconds of this process and its workers (PostgreSQL's own
work not included): on a shared 2-core machine, rows per CPU second say what the code costs.

    .venv/bin/python bench/source_import.py [--rows 100000] [--backends sqlite,postgresql]

PostgreSQL comes from DRIVETRAIN_BENCH_DATABASE_URL or DRIVETRAIN_TEST_DATABASE_URL (its own schema).
Figures go to stdout and bench/results/source_import.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from drivetrain import migrate
from drivetrain.auth.subject import SYSTEM
from drivetrain.db import Database, open_database, unit_of_work
from drivetrain.kit.address import parse_addresses
from drivetrain.kit.names import t2s_table
from drivetrain.sources import service
from drivetrain.sources.files import read_rows
from drivetrain.sources.models import ImportVia, SourceType
from drivetrain.sources.repository import SourceRepository
from drivetrain.sources.schemas import ProfileWrite, SourceCreate
from identity_generator import SEED, Generator

HERE = Path(__file__).parent
VAR = HERE / "var"
RESULTS = HERE / "results" / "source_import.json"
LOCK = Path("/tmp/drivetrain-bench.lock")
BAR_ROWS_PER_S = 20_000
SOURCE = "dms-bench"
MAPPING = {
    "external_id": "客户编号",
    "name": "客户姓名",
    "phone": "手机",
    "id_number": "证件号码",
    "vin": "车架号",
    "plate": "车牌号",
    "address": "联系地址",
    "city": "所在城市",
    "purchase_date": "购车日期",
    "email": "电子邮箱",
}
HEADER = [*MAPPING.values(), "车型", "销售顾问", "备注"]
SERIES = ["锐界", "探险者", "蒙迪欧", "福克斯", "领界", "EVOS", "Mustang Mach-E"]
NOTES = ["", "", "", "老客户转介绍", "置换", "需回访", "保险到期提醒"]


def export_rows(count: int, seed: int = SEED) -> list[list[str]]:
    """DMS rows: one per sale, some people twice; about 1% carry a bad phone, 0.3% no identifier."""
    generator = Generator(seed)
    rng = random.Random(seed + 1)
    people = generator.people(max(1, count * 4 // 5))
    rows = []
    for index in range(count):
        person = people[index % len(people)] if index < len(people) else rng.choice(people)
        rows.append(_row(generator, rng, person, index))
    return rows


def _row(generator: Generator, rng: random.Random, person: Any, index: int) -> list[str]:
    record = generator._record(person, "dms")
    phone = str(record.get("phone") or "")
    if rng.random() < 0.01:
        phone = phone[:7]  # cut short
    id_number = generator._id_text(person.id_number) if person.id_number and rng.random() < 0.7 else ""
    sold = date(2024, 12, 31) - timedelta(days=rng.randrange(3000))
    row = [
        f"C{index:08d}",
        str(record.get("name") or ""),
        phone,
        id_number,
        str(record.get("vin") or ""),
        str(record.get("plate") or ""),
        str(record.get("address") or ""),
        str(record.get("city") or ""),
        sold.strftime("%Y/%m/%d"),
        str(record.get("email") or ""),
        rng.choice(SERIES),
        f"sc{rng.randrange(1, 400):03d}",
        rng.choice(NOTES),
    ]
    if rng.random() < 0.003:
        row[2:10] = [""] * 8  # a row nobody can be found by
    return row


def write_export(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("gb18030"))


def changed_copy(source: Path, target: Path, share: float) -> int:
    """The export with ``share`` of its rows moved house; returns how many."""
    rows = list(csv.reader(io.StringIO(source.read_bytes().decode("gb18030"))))
    rng = random.Random(7)
    column = HEADER.index("联系地址")
    moved = 0
    for row in rows[1:]:
        if rng.random() < share and row[column]:
            row[column] = f"浙江省杭州市滨江区江南大道{rng.randrange(1, 999)}号"
            moved += 1
    write_export(target, rows[1:])
    return moved


def database_url(backend: str) -> str:
    if backend == "sqlite":
        path = VAR / "source-import.db"
        for stale in VAR.glob("source-import.db*"):
            stale.unlink()
        return f"sqlite:///{path}"
    base = os.environ.get("DRIVETRAIN_BENCH_DATABASE_URL") or os.environ.get("DRIVETRAIN_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("PostgreSQL: set DRIVETRAIN_BENCH_DATABASE_URL (or DRIVETRAIN_TEST_DATABASE_URL)")
    admin = open_database(base)
    with admin.writer.begin() as conn:
        conn.execute(text('DROP SCHEMA IF EXISTS "bench_source_import" CASCADE'))
        conn.execute(text('CREATE SCHEMA "bench_source_import"'))
    admin.dispose()
    return (
        make_url(base)
        .update_query_dict({"options": "-csearch_path=bench_source_import"})
        .render_as_string(hide_password=False)
    )


def prepare(db: Database) -> None:
    migrate.upgrade(db)
    with unit_of_work(db) as session:
        source = service.register_source(
            session, SYSTEM, data=SourceCreate(name=SOURCE, type=SourceType.DMS, trust_rank=80)
        )
        profile = ProfileWrite.model_validate({"mapping": MAPPING, "options": {"date_format": "%Y/%m/%d"}})
        service.save_profile(session, SYSTEM, source, "default", data=profile)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the import's worker processes)."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def timed_import(db: Database, path: Path, workers: int | None) -> dict[str, Any]:
    """What ``drivetrain import`` does, without the progress bar: read, normalise, upsert, commit."""
    load = os.getloadavg()[0]
    cpu = cpu_seconds()
    started = time.perf_counter()
    data = path.read_bytes()
    with unit_of_work(db) as session:
        source = SourceRepository(session).by_name(SYSTEM, SOURCE)
        profile = service.resolve_profile(session, source, None)
        rows = read_rows(path, data)
        origin = service.ImportOrigin(via=ImportVia.FILE, file_name=path.name)
        numbered = list(enumerate(rows, start=1))
        workers = service.workers_for(len(rows)) if workers is None else workers
        run = service.import_records(
            session, SYSTEM, source, numbered, profile=profile, origin=origin, workers=workers
        ).run
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    return {
        "seconds": round(seconds, 2),
        "rows_per_s": round(run.rows_read / seconds),
        "cpu_s": round(cpu, 2),
        "rows_per_cpu_s": round(run.rows_read / cpu),
        "load_before": round(load, 2),
        "workers": workers,
        **{name: getattr(run, name) for name in ("rows_read", "created", "updated", "unchanged", "rejected")},
    }


def warm_up() -> float:
    started = time.perf_counter()
    t2s_table()
    parse_addresses(["浙江省杭州市滨江区"])
    return round(time.perf_counter() - started, 2)


@contextmanager
def bench_lock() -> Iterator[None]:
    """Other benchmarks share the 2 cores: wait for them, and hold the lock while timing."""
    while LOCK.exists():
        time.sleep(5)
    LOCK.write_text("import")
    try:
        yield
    finally:
        LOCK.unlink(missing_ok=True)


def run_backend(backend: str, export: Path, changed: Path, workers: int | None) -> dict[str, Any]:
    db = open_database(database_url(backend))
    try:
        prepare(db)
        figures = {"first": timed_import(db, export, workers), "again": timed_import(db, export, workers)}
        figures["changed"] = timed_import(db, changed, workers)
    finally:
        db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, help="normalising processes [default: one per core]")
    args = parser.parse_args()
    VAR.mkdir(exist_ok=True)
    export = VAR / f"dms-export-{args.rows}.csv"
    if not export.exists():
        write_export(export, export_rows(args.rows))
    changed = VAR / f"dms-export-{args.rows}-changed.csv"
    moved = changed_copy(export, changed, 0.01)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results: dict[str, Any] = {
        "benchmark": "source_import",
        "rows": args.rows,
        "encoding": "gb18030",
        "bar_rows_per_s": BAR_ROWS_PER_S,
        "machine": "2 cores",
        "backends": previous.get("backends", {}) if previous.get("rows") == args.rows else {},
    }
    with bench_lock():
        results["warm_up_s"] = warm_up()
        for backend in args.backends.split(","):
            figures = run_backend(backend, export, changed, args.workers)
            figures["rows_changed_in_file"] = moved
            figures["bar_met"] = figures["first"]["rows_per_s"] >= BAR_ROWS_PER_S
            figures["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            results["backends"][backend] = figures
            for step in ("first", "again", "changed"):
                f = figures[step]
                print(
                    f"{backend} {step:8} {f['rows_read']:,} rows in {f['seconds']} s"
                    f" = {f['rows_per_s']:,} rows/s, {f['cpu_s']} CPU s (load {f['load_before']});"
                    f" created {f['created']:,}, updated {f['updated']:,},"
                    f" unchanged {f['unchanged']:,}, rejected {f['rejected']:,}"
                )
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
