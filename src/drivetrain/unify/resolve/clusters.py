"""Stage 3 on DuckDB: connected components of the links, then a guarded rebuild (``clustering``) of
the components that would hold more than one person. A refused link between two existing customers
joins the review pairs."""

from __future__ import annotations

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from drivetrain.unify.resolve.clustering import Person, find, guarded_union, one

IntArray = npt.NDArray[np.int64]


def cluster(con: duckdb.DuckDBPyConnection, count: int) -> IntArray:
    """Component label per rid: connected components, then a guarded rebuild of the
    components that would hold more than one person."""
    strong = _edges(con, "SELECT rid_l, rid_r FROM strong_links")
    probable = _edges(con, "SELECT rid_l, rid_r FROM probable_links")
    labels = _components(
        count, np.concatenate([strong[0], probable[0]]), np.concatenate([strong[1], probable[1]])
    )
    con.register("component_labels", pa.table({"rid": np.arange(count, dtype=np.int32), "component": labels}))
    conflicted = con.sql("""
        SELECT c.component FROM component_labels c JOIN records_norm r USING (rid)
        GROUP BY c.component
        HAVING count(DISTINCT r.name_key) > 1 OR count(DISTINCT r.surname_key) > 1
            OR count(DISTINCT r.gender) > 1 OR count(DISTINCT r.pinned_key) > 1
        UNION
        SELECT l.component FROM apart_pairs p
        JOIN component_labels l ON l.rid = p.rid_l JOIN component_labels r ON r.rid = p.rid_r
        WHERE l.component = r.component
    """).fetchnumpy()["component"]
    if len(conflicted):
        _rebuild_conflicted(con, labels, conflicted)
    con.unregister("component_labels")
    return labels


def _edges(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[IntArray, IntArray]:
    columns = con.sql(sql).fetchnumpy()
    return np.asarray(columns["rid_l"], dtype=np.int64), np.asarray(columns["rid_r"], dtype=np.int64)


def _components(count: int, left: IntArray, right: IntArray) -> IntArray:
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _rebuild_conflicted(con: duckdb.DuckDBPyConnection, labels: IntArray, conflicted: IntArray) -> None:
    """Greedy guarded union over the edges of conflicted components: binding identifier
    links first (regardless of names), then VIN-and-phone links, then probable links
    strongest first, each refused when it would put two people in one cluster. A refused
    link between two existing customers joins the review pairs."""
    con.register("conflicted_components", pa.table({"component": conflicted}))
    rows = con.sql("""
        SELECT rid, name_key, surname_key, gender, pinned_key FROM records_norm
        JOIN component_labels USING (rid) SEMI JOIN conflicted_components USING (component)
    """).fetchall()
    people = {
        rid: Person(one(name_key), one(surname), one(gender), one(pin), {rid})
        for rid, name_key, surname, gender, pin in rows
    }
    apart: dict[int, set[int]] = {}
    for rid_l, rid_r in con.sql("SELECT rid_l, rid_r FROM apart_pairs").fetchall():
        apart.setdefault(rid_l, set()).add(rid_r)
        apart.setdefault(rid_r, set()).add(rid_l)
    ordered = con.sql("""
        SELECT e.rid_l, e.rid_r, e.rank = 2 AS binding, e.p FROM (
            SELECT rid_l, rid_r, CASE WHEN binding THEN 2 ELSE 1 END AS rank, 1.0 AS p FROM strong_links
            UNION ALL SELECT rid_l, rid_r, 0, match_probability FROM probable_links
        ) e
        JOIN component_labels c ON c.rid = e.rid_l SEMI JOIN conflicted_components USING (component)
        ORDER BY e.rank DESC, e.p DESC, e.rid_l, e.rid_r
    """).fetchall()
    parent = {rid: rid for rid in people}
    between_customers: list[tuple[int, int, float]] = []
    for rid_l, rid_r, binding, probability in ordered:
        if guarded_union(parent, people, apart, rid_l, rid_r, force=bool(binding)) == "pinned":
            between_customers.append((rid_l, rid_r, float(probability)))
    for rid in parent:
        labels[rid] = len(labels) + find(parent, rid)  # fresh labels, clear of the old ones
    con.unregister("conflicted_components")
    if between_customers:
        rid_l, rid_r, probability = zip(*between_customers, strict=True)
        con.register("pinned_refusals", pa.table({"rid_l": rid_l, "rid_r": rid_r, "p": probability}))
        con.execute("""
            INSERT INTO review_pairs
            SELECT rid_l, rid_r, max(p), 'existing customers' FROM pinned_refusals GROUP BY rid_l, rid_r
        """)
        con.unregister("pinned_refusals")
