"""The same Splink model on local Spark (``ResolveConfig(engine="spark")``), for when one
machine's DuckDB is not enough.

Only pair scoring moves: the resolve package normalises and trains the model in DuckDB (training
samples its pairs), hands ``records_norm`` and the trained model to Spark, which scores every
blocked pair, and takes the scored pairs back as Arrow for the deterministic links and the
clustering. The comparisons are written in DuckDB's SQL; the one function Spark spells
differently, ``jaro_winkler_similarity``, is registered under DuckDB's name from the
Java similarity functions Splink ships (the same Jaro-Winkler, character for character).

One SparkSession per process, started on first use and kept: a JVM takes seconds to start.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from drivetrain.unify.config import ResolveConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DRIVER_MEMORY = "2g"  # local mode: the driver JVM is the whole of Spark
# DuckDB's names for Spark functions that Splink's jar provides under other names
DUCKDB_SPELLINGS = {"jaro_winkler_similarity": "uk.gov.moj.dash.linkage.JaroWinklerSimilarity"}
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c: %m%n
# Spark announces "Setting default log level" unless its own loggers are configured
logger.spark.name = org.apache.spark
logger.spark.level = error
"""


def spark_linker(con: duckdb.DuckDBPyConnection, table: str, settings: Any, config: ResolveConfig) -> Any:
    """A Splink Linker with ``settings`` (a trained model, as ``save_model_to_json`` gives it) over a
    Spark copy of DuckDB table ``table``."""
    from splink import Linker

    spark = spark_session(config)
    records = spark.createDataFrame(con.table(table).to_arrow_table())
    records.createOrReplaceTempView(table)
    api = _local_spark_api(spark, config)
    _register_duckdb_spellings(spark)
    return Linker(api.register(table), settings, log_level=logging.WARNING)


def _local_spark_api(spark: SparkSession, config: ResolveConfig) -> Any:
    """Splink's SparkAPI, writing intermediate tables as Parquet under the session's checkpoint directory."""
    from splink import SparkAPI

    return SparkAPI(  # type: ignore[no-untyped-call]
        spark_session=spark, break_lineage_method="parquet", num_partitions_on_repartition=_partitions(config)
    )


def store_predictions(con: duckdb.DuckDBPyConnection, predictions: Any, target: str) -> None:
    """Splink's scored pairs on Spark into DuckDB temp table ``target`` (rid_l, rid_r,
    match_probability), as Arrow batches."""
    scored = predictions.as_spark_dataframe().select("rid_l", "rid_r", "match_probability").toArrow()
    con.register(f"{target}_arrow", scored)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT * FROM {target}_arrow")
    con.unregister(f"{target}_arrow")


def spark_session(config: ResolveConfig) -> SparkSession:
    """The process's local SparkSession (``local[threads]``), started on first use with
    quiet logs and its scratch space (spills, Splink's intermediate Parquet) in a temporary
    directory removed at exit."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    _ensure_java_home()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    scratch = Path(tempfile.mkdtemp(prefix="drivetrain-spark-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    builder = SparkSession.builder.master(f"local[{int(config.threads)}]").appName("drivetrain-resolve")
    for key, value in _spark_conf(config, scratch).items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():  # pyspark's notice about pandas versions: we use Arrow
        warnings.simplefilter("ignore", FutureWarning)
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
    return spark


def _spark_conf(config: ResolveConfig, scratch: Path) -> dict[str, str]:
    from splink.backends.spark import similarity_jar_location

    log_config = scratch / "log4j2.properties"
    log_config.write_text(_LOG4J2)
    return {
        "spark.jars": similarity_jar_location(),
        "spark.driver.memory": DRIVER_MEMORY,
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log_config}",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(_partitions(config)),
        "spark.default.parallelism": str(_partitions(config)),
        "spark.local.dir": str(scratch / "local"),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
    }


def _partitions(config: ResolveConfig) -> int:
    """A few tasks per core: Spark's default of 200 is for clusters and costs seconds locally."""
    return max(2, 2 * int(config.threads))


def _register_duckdb_spellings(spark: SparkSession) -> None:
    from pyspark.sql.types import DoubleType

    for name, java_class in DUCKDB_SPELLINGS.items():
        spark.udf.registerJavaFunction(name, java_class, DoubleType())


def _ensure_java_home() -> None:
    """JAVA_HOME from the ``java`` on PATH when unset (Spark's launcher wants it)."""
    if os.environ.get("JAVA_HOME"):
        return
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("the spark engine needs Java 17 or newer: no `java` on PATH and JAVA_HOME unset")
    os.environ["JAVA_HOME"] = str(Path(java).resolve().parent.parent)


def driver_peak_rss_mb() -> float:
    """Peak resident memory of this process's Spark driver JVM (a child process, so not in
    our own rusage), 0 when none is running."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    if process is None:
        return 0.0
    status = Path(f"/proc/{process.pid}/status")
    for line in status.read_text().splitlines() if status.exists() else ():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
