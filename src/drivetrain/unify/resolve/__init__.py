"""Identity resolution: which records, across DMS, ERP, insurance, used-car, finance, WeCom
and mini-program data, are the same person — and a customer key for each person.

Three stages, each doing what it is good at:

1. Deterministic links on identifiers that belong to one person: the ID-number hash, the
   WeChat unionid / WeCom external id, and the same VIN *with* the same phone.
2. Probabilistic links from Splink on DuckDB: candidate pairs from blocking on each
   identifier and on name key + city, scored on name (term-frequency adjusted: 王伟
   agreeing says less than 欧阳娜娜), phone, VIN, WeChat id, ID, e-mail, plate, address and
   city, with m/u parameters estimated by EM on this run's data.
3. Clustering with a name guard. A family shares a phone and a resold car keeps its VIN,
   so "same phone" or "same VIN" alone must never merge people with clearly different
   names: a probabilistic link needs compatible names, and a cluster that would still
   come to hold two different people (through a record without a name, or a salutation
   such as 王先生) is rebuilt greedily, strongest links first, refusing merges that
   put two different names or two genders in one person.

Customer keys are stable: a cluster keeps the key its records had in the previous run;
a new cluster's key is derived from its smallest record_id.

People's decisions bind the machine. ``constraints`` pairs decided "same" link their records
whatever the evidence; pairs decided "different" are never put in one cluster. A record with
a ``pinned_key`` (what Drivetrain holds about an existing customer) stays with that key, and
two pinned to different keys never join: existing customers are merged by a person, so a link
that would join them becomes a review pair ("existing customers") instead.

The stages live in their own modules: ``links`` (deterministic links, people's decisions, judging the
scored pairs), ``scoring`` (Splink), ``clusters`` (components and their guarded rebuild, on the pure
guarded union-find of ``clustering``) and ``keys`` (stable customer keys). This module runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.normalize import normalize_records
from drivetrain.unify.resolve.clusters import cluster
from drivetrain.unify.resolve.keys import assign_keys
from drivetrain.unify.resolve.links import apply_decisions, classify_pairs, deterministic_links
from drivetrain.unify.resolve.scoring import score_pairs


@dataclass(frozen=True)
class Resolution:
    """``assignments``: record_id -> customer_key; ``review``: borderline pairs for a person
    to decide (record_id_l, record_id_r, match_probability, reason)."""

    assignments: pa.Table
    review: pa.Table
    records: int
    clusters: int


def connect(config: ResolveConfig) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB bounded in threads and memory (it spills beyond the limit)."""
    con = duckdb.connect()
    con.execute(f"SET threads = {int(config.threads)}")
    con.execute(f"SET memory_limit = '{config.memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def resolve(
    con: duckdb.DuckDBPyConnection,
    source: str,
    config: ResolveConfig,
    *,
    previous: pa.Table | None = None,
    constraints: pa.Table | None = None,
) -> Resolution:
    """Resolve the records in relation ``source`` (columns: record_id, source, name, phone,
    vin, address, city, wechat_id, optionally id_number, email, plate, id_hash, pinned_key).

    ``previous`` (record_id, customer_key) from an earlier run keeps keys stable;
    ``constraints`` (record_id_l, record_id_r, same) are people's decisions.
    """
    count = normalize_records(con, source, "records_norm", max_shared=config.max_shared_identifier)
    if count == 0:
        return empty_resolution()
    score_pairs(con, config)
    deterministic_links(con)
    apply_decisions(con, constraints)
    classify_pairs(con, config)
    labels = cluster(con, count)
    assignments = assign_keys(con, labels, previous)
    review = con.sql(
        """SELECT a.record_id AS record_id_l, b.record_id AS record_id_r, p.match_probability, p.reason
           FROM review_pairs p JOIN records_norm a ON a.rid = p.rid_l JOIN records_norm b ON b.rid = p.rid_r
           ANTI JOIN decided_pairs d
               ON d.rid_l = least(p.rid_l, p.rid_r) AND d.rid_r = greatest(p.rid_l, p.rid_r)
           ORDER BY p.match_probability DESC, record_id_l, record_id_r"""
    ).to_arrow_table()
    return Resolution(
        assignments=assignments,
        review=review,
        records=count,
        clusters=len(np.unique(labels)),
    )


def empty_resolution() -> Resolution:
    return Resolution(
        assignments=pa.table(
            {"record_id": pa.array([], pa.string()), "customer_key": pa.array([], pa.string())}
        ),
        review=pa.table(
            {
                "record_id_l": pa.array([], pa.string()),
                "record_id_r": pa.array([], pa.string()),
                "match_probability": pa.array([], pa.float64()),
                "reason": pa.array([], pa.string()),
            }
        ),
        records=0,
        clusters=0,
    )
