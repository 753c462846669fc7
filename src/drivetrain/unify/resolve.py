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
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.normalize import normalize_records

IntArray = npt.NDArray[np.int64]
KEY_PREFIX = "cus_"
logger = logging.getLogger(__name__)
EM_BLOCKINGS = (("phone",), ("name_key", "city"))
"""EM sessions' blockings: between them every comparison is left free to be estimated at least once."""
# Parameters like those EM learns on generated records, for inputs too small to train on.
DEFAULT_PRIOR = 1e-4
DEFAULT_M_U: dict[tuple[str, str], tuple[float, float]] = {
    ("name", "same name"): (0.78, 1.4e-4),
    ("name", "same pinyin (Traditional, homophone typo)"): (0.04, 4e-5),
    ("name", "salutation with the same surname"): (0.09, 4.5e-3),
    ("name", "same surname only"): (0.04, 0.026),
    ("name", "different"): (0.05, 0.97),
    ("address", "same street address"): (0.9, 5e-5),
    ("address", "similar street address"): (0.01, 1e-5),
    ("address", "same district"): (0.04, 0.016),
    ("address", "different"): (0.05, 0.984),
    ("city", "same"): (0.98, 0.054),
    ("city", "different"): (0.02, 0.946),
    # An owner's records name each of their cars: a second car is common, so a different VIN says
    # less against a match than a different phone does.
    ("vin", "different"): (0.35, 0.99997),
    ("*", "same"): (0.88, 3e-5),  # phone, VIN, WeChat id, ID, e-mail, plate
    ("*", "different"): (0.12, 0.99997),
}


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
        return _empty_resolution()
    _score_pairs(con, config)
    _deterministic_links(con)
    _apply_decisions(con, constraints)
    _classify_pairs(con, config)
    labels = _cluster(con, count)
    assignments = _assign_keys(con, labels, previous)
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


# --- stage 1 and 2: links -------------------------------------------------------------------

_COMPATIBLE_NAMES = """(
    l.surname_key IS NULL OR r.surname_key IS NULL
    OR l.name_key = r.name_key
    OR ((l.name_key IS NULL OR r.name_key IS NULL) AND l.surname_key = r.surname_key
        AND (l.gender IS NULL OR r.gender IS NULL OR l.gender = r.gender))
)"""


# Deterministic link rules -> whether they bind even when the names disagree. An ID number
# or a WeChat account is one person's; a VIN with a phone may be a family's car and phone.
_DETERMINISTIC = {"id_hash": True, "wechat_id": True, "vin, phone": False}


def _deterministic_links(con: duckdb.DuckDBPyConnection) -> None:
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


def _score_pairs(con: duckdb.DuckDBPyConnection, config: ResolveConfig) -> None:
    """Splink: train on this run's data, score the blocked pairs above the review threshold
    into table ``scored_pairs`` (rid_l, rid_r, match_probability).

    Small inputs, inputs whose EM blockings yield too few pairs to learn from (a few
    hundred records sharing a name and city teach EM nothing it can trust), and data on
    which EM drives a level's m to zero (which Splink refuses) are scored with default
    parameters. On Spark the model is trained here on DuckDB (training samples its pairs,
    so one machine suffices; each EM iteration on Spark costs seconds of scheduling) and
    Spark scores every blocked pair with it.
    """
    linker = _trained_linker(con, config)
    if config.engine == "spark":
        from drivetrain.unify.spark_engine import spark_linker, store_predictions

        model = linker.misc.save_model_to_json()
        linker.table_management.delete_tables_created_by_splink_from_db()
        linker = spark_linker(con, "records_norm", model, config)
        store_predictions(
            con,
            linker.inference.predict(threshold_match_probability=config.review_probability),
            "scored_pairs",
        )
        return
    predictions = linker.inference.predict(threshold_match_probability=config.review_probability)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE scored_pairs AS
        SELECT rid_l, rid_r, match_probability FROM {predictions.physical_name}
    """)
    linker.table_management.delete_tables_created_by_splink_from_db()


def _trained_linker(con: duckdb.DuckDBPyConnection, config: ResolveConfig) -> Any:
    """The model on DuckDB, trained when the data allows it (see ``_trainable``)."""
    present = _present_columns(con)
    trainable = _trainable(con, config)
    linker = _linker(con, present, defaults=not trainable)
    if trainable:
        from splink.internals.exceptions import EMTrainingException

        try:
            _train(linker, config)
        except (ValueError, EMTrainingException) as exc:  # e.g. a training blocking with no pairs
            logger.warning("identity resolution: EM failed (%s); scoring with default parameters", exc)
            linker.table_management.delete_tables_created_by_splink_from_db()
            linker = _linker(con, present, defaults=True)
    return linker


def _trainable(con: duckdb.DuckDBPyConnection, config: ResolveConfig) -> bool:
    """Enough records, and enough pairs in each EM blocking, for estimates worth more than the defaults."""
    (row,) = con.sql("SELECT count(*) FROM records_norm").fetchall()
    if row[0] < config.min_records_for_training:
        return False
    return all(_blocked_pairs(con, columns) >= config.min_pairs_for_training for columns in EM_BLOCKINGS)


def _blocked_pairs(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...]) -> int:
    present = " AND ".join(f"{column} IS NOT NULL" for column in columns)
    (row,) = con.sql(f"""
        SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (
            SELECT count(*) AS n FROM records_norm WHERE {present} GROUP BY {", ".join(columns)}
        )
    """).fetchall()
    return int(row[0])


def _linker(con: duckdb.DuckDBPyConnection, present: set[str], *, defaults: bool) -> Any:
    """The Splink model over ``records_norm`` on this DuckDB."""
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rid",
        comparisons=[
            comparison for column, comparison in _comparisons(defaults=defaults).items() if column in present
        ],
        blocking_rules_to_generate_predictions=[
            *(block_on(column) for column in ("phone", "vin", "wechat_id", "id_hash", "email", "plate")),
            block_on("name_key", "city"),
        ],
        probability_two_random_records_match=DEFAULT_PRIOR,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    return Linker(DuckDBAPI(con).register("records_norm"), settings, log_level=logging.WARNING)


def _train(linker: Any, config: ResolveConfig) -> None:
    """u from random pairs; the prior from near-certain rules; m by EM on two blockings that
    between them leave every comparison free to be estimated at least once."""
    from splink import block_on

    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("id_hash"), block_on("wechat_id"), block_on("vin", "phone")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=config.u_sample_pairs, seed=config.seed)
    for columns in EM_BLOCKINGS:
        training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), max_pairs=config.em_max_pairs, estimate_without_term_frequencies=True
        )


def _present_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Columns with at least one value: EM cannot estimate a comparison on an empty one."""
    columns = ("name_key", "phone", "vin", "wechat_id", "id_hash", "email", "plate", "street", "city")
    (row,) = con.sql(
        f"SELECT {', '.join(f'count({column})' for column in columns)} FROM records_norm"
    ).fetchall()
    return {column for column, filled in zip(columns, row, strict=True) if filled}


def _comparisons(*, defaults: bool) -> dict[str, dict[str, Any]]:
    """One comparison per evidence column, keyed by the column that must be present."""
    comparisons: dict[str, dict[str, Any]] = {
        "name_key": _comparison(
            "name",
            ("surname_key_l IS NULL OR surname_key_r IS NULL", None),
            ("name_full_l = name_full_r", "same name", "name_full"),
            ("name_key_l = name_key_r", "same pinyin (Traditional, homophone typo)"),
            (
                "(name_key_l IS NULL OR name_key_r IS NULL) AND surname_key_l = surname_key_r"
                " AND (gender_l IS NULL OR gender_r IS NULL OR gender_l = gender_r)",
                "salutation with the same surname",
            ),
            ("surname_key_l = surname_key_r", "same surname only"),
        ),
        "street": _comparison(
            "address",
            ("(street_l IS NULL OR street_r IS NULL) AND (district_l IS NULL OR district_r IS NULL)", None),
            ("street_l = street_r AND coalesce(district_l = district_r, true)", "same street address"),
            ("jaro_winkler_similarity(street_l, street_r) >= 0.92", "similar street address"),
            ("district_l = district_r", "same district"),
        ),
        "city": _comparison("city", ("city_l IS NULL OR city_r IS NULL", None), ("city_l = city_r", "same")),
    }
    for column in ("phone", "vin", "wechat_id", "id_hash", "email", "plate"):
        comparisons[column] = _comparison(
            column, (f"{column}_l IS NULL OR {column}_r IS NULL", None), (f"{column}_l = {column}_r", "same")
        )
    if defaults:
        for comparison in comparisons.values():
            for level in comparison["comparison_levels"][1:]:
                key = (comparison["output_column_name"], level["label_for_charts"])
                m, u = DEFAULT_M_U.get(key) or DEFAULT_M_U[("*", key[1])]
                level |= {"m_probability": m, "u_probability": u}
    return comparisons


def _comparison(name: str, null: tuple[str, None], *levels: tuple[str, ...]) -> dict[str, Any]:
    """A Splink comparison dict: a null level, the given levels (sql, label, and optionally
    the column whose term frequency scales the level: 王伟 agreeing says less than 欧阳娜娜),
    then everything else."""
    return {
        "output_column_name": name,
        "comparison_levels": [
            {"sql_condition": null[0], "label_for_charts": "missing", "is_null_level": True},
            *(_level(*level) for level in levels),
            {"sql_condition": "ELSE", "label_for_charts": "different"},
        ],
    }


def _level(sql: str, label: str, tf_column: str | None = None) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if tf_column:
        level |= {"tf_adjustment_column": tf_column, "tf_adjustment_weight": 1.0}
    return level


def _classify_pairs(con: duckdb.DuckDBPyConnection, config: ResolveConfig) -> None:
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


def _apply_decisions(con: duckdb.DuckDBPyConnection, constraints: pa.Table | None) -> None:
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


# --- stage 3: clustering --------------------------------------------------------------------


def _cluster(con: duckdb.DuckDBPyConnection, count: int) -> IntArray:
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


@dataclass
class _Person:
    """What a growing cluster says about its person: full-name keys, surnames, genders, the
    existing customer it is pinned to, and its records."""

    name_keys: set[str]
    surnames: set[str]
    genders: set[str]
    pins: set[str]
    rids: set[int]

    def pinned_elsewhere(self, other: _Person) -> bool:
        """Both hold records of existing customers, different ones."""
        return bool(self.pins and other.pins and self.pins != other.pins)

    def kept_apart(self, other: _Person, apart: dict[int, set[int]]) -> bool:
        """A person decided that a record of one is not a record of the other."""
        small, large = (self, other) if len(self.rids) <= len(other.rids) else (other, self)
        return any(not apart.get(rid, set()).isdisjoint(large.rids) for rid in small.rids)

    def conflicts_with(self, other: _Person) -> bool:
        """Two different full names, two surnames, or both genders in one person."""
        shared_name = bool(self.name_keys & other.name_keys)
        if self.name_keys and other.name_keys and not shared_name:
            return True
        if len(self.surnames | other.surnames) > 1 and not shared_name:
            return True
        return len(self.genders | other.genders) > 1

    def absorb(self, other: _Person) -> None:
        self.name_keys |= other.name_keys
        self.surnames |= other.surnames
        self.genders |= other.genders
        self.pins |= other.pins
        self.rids |= other.rids


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
        rid: _Person(_one(name_key), _one(surname), _one(gender), _one(pin), {rid})
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
        if _guarded_union(parent, people, apart, rid_l, rid_r, force=bool(binding)) == "pinned":
            between_customers.append((rid_l, rid_r, float(probability)))
    for rid in parent:
        labels[rid] = len(labels) + _find(parent, rid)  # fresh labels, clear of the old ones
    con.unregister("conflicted_components")
    if between_customers:
        rid_l, rid_r, probability = zip(*between_customers, strict=True)
        con.register("pinned_refusals", pa.table({"rid_l": rid_l, "rid_r": rid_r, "p": probability}))
        con.execute("""
            INSERT INTO review_pairs
            SELECT rid_l, rid_r, max(p), 'existing customers' FROM pinned_refusals GROUP BY rid_l, rid_r
        """)
        con.unregister("pinned_refusals")


def _one(value: str | None) -> set[str]:
    return {value} if value else set()


def _guarded_union(
    parent: dict[int, int],
    people: dict[int, _Person],
    apart: dict[int, set[int]],
    a: int,
    b: int,
    *,
    force: bool,
) -> str:
    """Join the clusters of ``a`` and ``b`` unless that would hold two people; says what happened
    ("joined", "same", "pinned", "apart" or "conflict"). People's decisions and pins bind even
    a binding identifier link."""
    root_a, root_b = _find(parent, a), _find(parent, b)
    if root_a == root_b:
        return "same"
    person_a, person_b = people[root_a], people[root_b]
    if person_a.kept_apart(person_b, apart):
        return "apart"
    if person_a.pinned_elsewhere(person_b):
        return "pinned"
    if not force and person_a.conflicts_with(person_b):
        return "conflict"
    if root_b < root_a:
        root_a, root_b = root_b, root_a
    parent[root_b] = root_a
    people[root_a].absorb(people.pop(root_b))
    return "joined"


def _find(parent: dict[int, int], node: int) -> int:
    root = node
    while parent[root] != root:
        root = parent[root]
    while parent[node] != root:  # path compression
        parent[node], node = root, parent[node]
    return root


# --- customer keys --------------------------------------------------------------------------


def _assign_keys(con: duckdb.DuckDBPyConnection, labels: IntArray, previous: pa.Table | None) -> pa.Table:
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


def _empty_resolution() -> Resolution:
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
