"""Stages 1 and 2's links: deterministic links on identifiers that belong to one person, people's
decisions ("same" binds, "different" keeps apart), and the scored pairs judged into links or review
items by whether the names agree."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from drivetrain.unify.config import ResolveConfig

_COMPATIBLE_NAMES = """(
    l.surname_key IS NULL OR r.surname_key IS NULL
    OR l.name_key = r.name_key
    OR ((l.name_key IS NULL OR r.name_key IS NULL) AND l.surname_key = r.surname_key
        AND (l.gender IS NULL OR r.gender IS NULL OR l.gender = r.gender))
)"""


# Deterministic link rules -> whether they bind even when the names disagree. An ID number
# or a WeChat account is one person's; a VIN with a phone may be a family's car and phone.
_DETERMINISTIC = {"id_hash": True, "wechat_id": True, "vin, phone": False}


def deterministic_links(con: duckdb.DuckDBPyConnection) -> None:
    """Star edges (each record to the smallest rid sharing the identifier): n edges per
    group instead of n²/2 pairs, and the same components."""
    selects = [
        f"""SELECT min(rid) OVER (PARTITION BY {columns}) AS rid_l, rid AS rid_r, {binding} AS binding
            FROM records_norm
            WHERE {" AND ".join(f"{column.strip()} IS NOT NULL" for column in columns.split(","))}"""
        for columns, binding in _DETERMINISTIC.items()
    ]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE strong_links AS
        SELECT rid_l, rid_r, bool_or(binding) AS binding
        FROM ({" UNION ALL ".join(selects)}) WHERE rid_l <> rid_r GROUP BY rid_l, rid_r
    """)


def classify_pairs(con: duckdb.DuckDBPyConnection, config: ResolveConfig) -> None:
    """Scored pairs become links (confident and name-compatible) or review items
    (borderline, or confident but the names disagree)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE judged_pairs AS
        SELECT p.rid_l, p.rid_r, p.match_probability, {_COMPATIBLE_NAMES} AS names_agree
        FROM scored_pairs p JOIN records_norm l ON l.rid = p.rid_l JOIN records_norm r ON r.rid = p.rid_r
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE probable_links AS
        SELECT rid_l, rid_r, match_probability FROM judged_pairs
        WHERE names_agree AND match_probability >= {config.match_probability}
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE review_pairs AS
        SELECT j.rid_l, j.rid_r, j.match_probability,
               CASE WHEN j.names_agree THEN 'borderline' ELSE 'names differ' END AS reason
        FROM judged_pairs j ANTI JOIN strong_links s ON s.rid_l = least(j.rid_l, j.rid_r)
            AND s.rid_r = greatest(j.rid_l, j.rid_r)
        WHERE NOT j.names_agree OR j.match_probability < {config.match_probability}
    """)


def apply_decisions(con: duckdb.DuckDBPyConnection, constraints: pa.Table | None) -> None:
    """Pairs decided "same" become binding links; pairs decided "different" go to ``apart_pairs``
    for the clustering guard. Both are left out of the review queue (``decided_pairs``)."""
    if constraints is None or constraints.num_rows == 0:
        constraints = pa.table(
            {
                "record_id_l": pa.array([], pa.string()),
                "record_id_r": pa.array([], pa.string()),
                "same": pa.array([], pa.bool_()),
            }
        )
    con.register("decisions", constraints.select(["record_id_l", "record_id_r", "same"]))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE decided_pairs AS
        SELECT DISTINCT least(a.rid, b.rid) AS rid_l, greatest(a.rid, b.rid) AS rid_r, d.same
        FROM decisions d
        JOIN records_norm a ON a.record_id = CAST(d.record_id_l AS VARCHAR)
        JOIN records_norm b ON b.record_id = CAST(d.record_id_r AS VARCHAR)
        WHERE a.rid <> b.rid
    """)
    con.unregister("decisions")
    con.execute("""
        INSERT INTO strong_links
        SELECT rid_l, rid_r, true FROM decided_pairs
        ANTI JOIN strong_links s USING (rid_l, rid_r) WHERE same
    """)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE apart_pairs AS SELECT rid_l, rid_r FROM decided_pairs WHERE NOT same"
    )
