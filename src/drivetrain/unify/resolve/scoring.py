"""Stage 2: Splink on DuckDB scores the blocked candidate pairs (name term-frequency adjusted; phone,
VIN, WeChat id, ID, e-mail, plate, address and city), with m/u parameters estimated by EM on this
run's data, or defaults like those EM learns when the data is too small to train on."""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from drivetrain.unify.config import ResolveConfig

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


def score_pairs(con: duckdb.DuckDBPyConnection, config: ResolveConfig) -> None:
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
