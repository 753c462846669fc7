"""Identity resolution at 100k and 1,000,000 records: our engine beside two baselines.

Engines, each in its own subprocess so its peak RSS is its own:
- ``drivetrain``: ``drivetrain.unify.filemode.resolve_file`` on the Parquet file, end to end;
  with ``--engine spark`` its Splink model runs on local Spark instead of DuckDB, recorded as
  ``drivetrain_spark`` (peak RSS then adds the Spark driver JVM's).
- ``exact``: union of records sharing a normalised phone or a VIN (the rule most CRMs use).
- ``splink_default``: a plain Splink model — exact-match comparisons on name, phone, VIN,
  WeChat id and city, Jaro-Winkler on the address, blocking on phone / VIN / WeChat id /
  name + city, EM-trained, clustered at match probability 0.5: the honest out-of-the-box setup.

Pairwise precision / recall / F1 against the generator's ``person_id`` are computed from
the cluster-by-person contingency counts (no pair enumeration).

    .venv/bin/python bench/identity_resolution.py [--sizes 100000,1000000]
    .venv/bin/python bench/identity_resolution.py --sizes 100000 --engines drivetrain --engine spark

Data goes to bench/var/ (generated once, seeded); figures to stdout and
bench/results/identity_resolution.json. Bars at 1M on 2 cores for ``drivetrain``:
F1 >= 0.93, <= 40 s wall, <= 2 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HERE = Path(__file__).parent
VAR = HERE / "var"
RESULTS = HERE / "results" / "identity_resolution.json"
ENGINES = ("drivetrain", "exact", "splink_default")
BARS = {"f1": 0.93, "seconds": 40.0, "peak_rss_mb": 2048.0}
PHONE_DIGITS = "regexp_extract(regexp_replace(phone, '[^0-9０-９]', '', 'g'), '([0-9０-９]{11})$', 1)"


# --- engines (run inside the subprocess) ----------------------------------------------------


def run_drivetrain(data: Path, out: Path, resolve_engine: str = "duckdb") -> None:
    from drivetrain.unify.config import ResolveConfig
    from drivetrain.unify.filemode import resolve_file

    resolve_file(data, out, ResolveConfig(engine=resolve_engine))


def run_exact(data: Path, out: Path) -> None:
    """Connected components over "same phone (last 11 digits) or same VIN"."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"""
        CREATE TABLE r AS SELECT (row_number() OVER () - 1)::INTEGER AS rid, record_id,
            nullif(translate({PHONE_DIGITS}, '０１２３４５６７８９', '0123456789'), '') AS phone,
            nullif(upper(replace(vin, ' ', '')), '') AS vin
        FROM read_parquet('{data}')
    """)
    edges = con.sql("""
        SELECT min(rid) OVER (PARTITION BY phone) AS a, rid AS b FROM r WHERE phone IS NOT NULL
        UNION ALL SELECT min(rid) OVER (PARTITION BY vin), rid FROM r WHERE vin IS NOT NULL
    """).fetchnumpy()
    _write_components(con, edges["a"], edges["b"], out)


def run_splink_default(data: Path, out: Path) -> None:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"""
        CREATE TABLE r AS SELECT (row_number() OVER () - 1)::INTEGER AS rid, record_id, name,
            nullif({PHONE_DIGITS}, '') AS phone, upper(replace(vin, ' ', '')) AS vin,
            wechat_id, address, city
        FROM read_parquet('{data}')
    """)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rid",
        comparisons=[
            cl.ExactMatch("name"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("vin"),
            cl.ExactMatch("wechat_id"),
            cl.JaroWinklerAtThresholds("address"),
            cl.ExactMatch("city"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("phone"),
            block_on("vin"),
            block_on("wechat_id"),
            block_on("name", "city"),
        ],
    )
    linker = Linker(DuckDBAPI(con).register("r"), settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match([block_on("phone", "name")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name", "city"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    edges = con.sql(f"SELECT rid_l AS a, rid_r AS b FROM {predictions.physical_name}").fetchnumpy()
    _write_components(con, edges["a"], edges["b"], out)


def _write_components(con: duckdb.DuckDBPyConnection, left: Any, right: Any, out: Path) -> None:
    (count,) = con.sql("SELECT count(*) FROM r").fetchall()[0]
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    con.register("labels", pa.table({"rid": np.arange(count, dtype=np.int32), "customer_key": labels}))
    con.execute(f"""
        COPY (SELECT record_id, 'c' || customer_key AS customer_key FROM r JOIN labels USING (rid))
        TO '{out}' (FORMAT parquet)
    """)


# --- driver ---------------------------------------------------------------------------------


def measure(engine: str, data: Path, resolve_engine: str) -> dict[str, Any]:
    """Run one engine in a fresh interpreter; its wall time, peak RSS and the scores."""
    out = VAR / f"identity-{engine}-{resolve_engine}-{data.stem}.parquet"
    command = [sys.executable, __file__, "--run", engine, "--engine", resolve_engine]
    command += ["--data", str(data), "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures.update(score(data, out))
    return figures


def score(data: Path, predicted: Path) -> dict[str, float]:
    """Pairwise precision / recall / F1 from contingency counts: TP is the sum of C(n, 2)
    over (cluster, person) cells, predicted and true pairs the same over clusters and persons."""
    con = duckdb.connect()
    tp, predicted_pairs, true_pairs = con.sql(f"""
        WITH j AS (
            SELECT p.customer_key, t.person_id
            FROM read_parquet('{predicted}') p JOIN read_parquet('{data}') t USING (record_id)
        ),
        cells AS (SELECT count(*) AS n FROM j GROUP BY customer_key, person_id),
        clusters AS (SELECT count(*) AS n FROM j GROUP BY customer_key),
        persons AS (SELECT count(*) AS n FROM j GROUP BY person_id)
        SELECT (SELECT sum(n * (n - 1) / 2) FROM cells), (SELECT sum(n * (n - 1) / 2) FROM clusters),
               (SELECT sum(n * (n - 1) / 2) FROM persons)
    """).fetchall()[0]
    precision = float(tp) / float(predicted_pairs) if predicted_pairs else 1.0
    recall = float(tp) / float(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def ensure_data(records: int) -> Path:
    path = VAR / f"identity-{records}.parquet"
    if not path.exists():
        from identity_generator import write

        print(f"generating {records:,} records …", flush=True)
        write(records, path)
    return path


def previous_results() -> dict[str, Any]:
    """Figures from earlier runs, so measuring one engine or size keeps the others."""
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"sizes": {}}
    results |= {"benchmark": "identity_resolution", "machine": f"{os.cpu_count()} cores", "bars_at_1m": BARS}
    results.pop("at", None)
    return results


def child(engine: str, data: Path, out: Path, resolve_engine: str) -> None:
    started = time.perf_counter()
    if engine == "drivetrain":
        run_drivetrain(data, out, resolve_engine)
    else:
        {"exact": run_exact, "splink_default": run_splink_default}[engine](data, out)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime  # next to wall time: shows when the machine was shared
    figures = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)}
    peak_mb = usage.ru_maxrss / 1024
    if engine == "drivetrain" and resolve_engine == "spark":
        from drivetrain.unify.spark_engine import driver_peak_rss_mb

        # the JVM's CPU is not in our rusage (a live child); wall time is the fair figure
        figures["jvm_peak_rss_mb"] = round(driver_peak_rss_mb(), 1)
        peak_mb += figures["jvm_peak_rss_mb"]
    print(json.dumps(figures | {"peak_rss_mb": round(peak_mb, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb", help="where drivetrain's Splink runs"
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        child(args.run, args.data, args.out, args.engine)
        return
    results = previous_results()
    header = ("records", "engine", "seconds", "cpu s", "peak MB", "P", "R", "F1")
    print("{:>10} {:<16} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7}".format(*header))
    for records in (int(size) for size in args.sizes.split(",")):
        data = ensure_data(records)
        for engine in args.engines.split(","):
            figures = measure(engine, data, args.engine)
            # the Spark run is recorded beside the DuckDB one, not over it
            name = "drivetrain_spark" if engine == "drivetrain" and args.engine == "spark" else engine
            figures["at"] = datetime.now(UTC).isoformat(timespec="seconds")
            figures["load_average_1m"] = round(os.getloadavg()[0], 2)  # others' work on the machine
            results["sizes"].setdefault(str(records), {})[name] = figures
            print(
                f"{records:>10,} {name:<16} {figures['seconds']:>8.1f} {figures['cpu_seconds']:>7.1f}"
                f" {figures['peak_rss_mb']:>8.0f}"
                f" {figures['precision']:>7.4f} {figures['recall']:>7.4f} {figures['f1']:>7.4f}",
                flush=True,
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
