"""Stable customer keys: a cluster keeps the key its records had in the previous run; a new
cluster's key is derived from its smallest record_id (salted when that key is taken)."""

from __future__ import annotations

import hashlib
import itertools

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

KEY_PREFIX = "cus_"
IntArray = npt.NDArray[np.int64]


def assign_keys(con: duckdb.DuckDBPyConnection, labels: IntArray, previous: pa.Table | None) -> pa.Table:
    """record_id -> customer_key: a key derived from the cluster's smallest record_id, or,
    given the previous run's mapping, the key the cluster's records had."""
    con.register(
        "cluster_labels", pa.table({"rid": np.arange(len(labels), dtype=np.int32), "cluster": labels})
    )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE clustered AS
        SELECT r.record_id, c.cluster, r.pinned_key FROM records_norm r JOIN cluster_labels c USING (rid)
    """)
    con.unregister("cluster_labels")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cluster_keys AS
        SELECT cluster, min(record_id) AS first_record,
               '{KEY_PREFIX}' || substr(md5(min(record_id)), 1, 16) AS customer_key, false AS inherited
        FROM clustered GROUP BY cluster
    """)
    if previous is not None:
        _keep_previous_keys(con, previous)
    return con.sql("""
        SELECT c.record_id, k.customer_key FROM clustered c JOIN cluster_keys k USING (cluster)
        ORDER BY c.record_id
    """).to_arrow_table()


def _keep_previous_keys(con: duckdb.DuckDBPyConnection, previous: pa.Table) -> None:
    """Each previous key goes to the cluster holding most of its records; a cluster keeps
    the claimed key covering most of its records. A pinned record's key outweighs any count.
    A derived key already used by someone else (its record's old cluster kept it) is salted
    until free."""
    con.register("previous_keys", previous.select(["record_id", "customer_key"]))
    con.execute("""
        WITH votes AS (
            SELECT c.cluster, CAST(p.customer_key AS VARCHAR) AS customer_key,
                   sum(CASE WHEN c.pinned_key = CAST(p.customer_key AS VARCHAR) THEN 1e12 ELSE 1 END) AS n
            FROM clustered c JOIN previous_keys p ON CAST(p.record_id AS VARCHAR) = c.record_id
            GROUP BY ALL
        ), claimed AS (
            SELECT * FROM votes
            QUALIFY row_number() OVER (PARTITION BY customer_key ORDER BY n DESC, cluster) = 1
        ), kept AS (
            SELECT * FROM claimed
            QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY n DESC, customer_key) = 1
        )
        UPDATE cluster_keys k SET customer_key = kept.customer_key, inherited = true
        FROM kept WHERE k.cluster = kept.cluster
    """)
    clashes = con.sql("""
        SELECT k.cluster, k.first_record FROM cluster_keys k
        WHERE NOT k.inherited AND (
            k.customer_key IN (SELECT CAST(customer_key AS VARCHAR) FROM previous_keys)
            OR k.customer_key IN (SELECT customer_key FROM cluster_keys WHERE inherited))
    """).fetchall()
    if clashes:
        taken = {str(key) for key in previous.column("customer_key").to_pylist()}
        fresh = [(cluster, _fresh_key(str(first_record), taken)) for cluster, first_record in clashes]
        con.executemany(
            "UPDATE cluster_keys SET customer_key = ? WHERE cluster = ?", [(k, c) for c, k in fresh]
        )
    con.unregister("previous_keys")


def _fresh_key(first_record: str, taken: set[str]) -> str:
    """A salted key from the record id that no one holds; remembered as taken."""
    for salt in itertools.count(1):
        key = KEY_PREFIX + hashlib.md5(f"{first_record}#{salt}".encode()).hexdigest()[:16]
        if key not in taken:
            taken.add(key)
            return key
    raise AssertionError("unreachable")
