"""Normalise a whole table of customer records at once, inside DuckDB.

Identity resolution compares every field many times, so each field is brought to one
comparable form first: phones to E.164, VINs and plates upper-cased without separators,
ID numbers hashed, names to Simplified characters with a pinyin key, addresses split into
city, district and street. Regular fields are rewritten in SQL; names and addresses need
OpenCC and pypinyin, which run once per *distinct* value (a million records hold far fewer
distinct names) and are joined back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import duckdb
import pyarrow as pa

from drivetrain.kit.names import normalize_name, parse_salutation, pinyin_of, split_surname, t2s_table
from drivetrain.kit.phone import normalize_phone
from drivetrain.unify.config import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

# Normalised columns the matcher reads, besides rid / record_id / source.
NAME_COLUMNS = ("name_full", "name_key", "surname_key", "gender")
IDENTIFIER_COLUMNS = ("phone", "vin", "wechat_id", "id_hash", "email", "plate")
# Typed to get past a mandatory form field ("13800000000", "test@test.com"); WeChat ids
# come from WeChat, ID numbers carry a check character, plates are read off the car.
_PLACEHOLDER_PRONE = ("phone", "vin", "email")
ADDRESS_COLUMNS = ("street", "district", "city")

_FULL_WIDTH_DIGITS = ("０１２３４５６７８９＋", "0123456789+")
# Province, then city, then district (区, 县, county-level 市, 旗), then the rest.
_ADDRESS = re.compile(
    r"^(?P<province>[^省市]{2,7}?(?:省|自治区))?"
    r"(?P<city>[^省市区县]{2,7}?(?:市|自治州|地区|盟))?"
    r"(?P<district>[^省市区县]{1,6}?(?:区|县|市|旗))?"
    r"(?P<street>.*)$"
)
_SPACES = re.compile(r"[\s\u3000]+")


def normalize_records(con: duckdb.DuckDBPyConnection, source: str, target: str, *, max_shared: int) -> int:
    """Write ``target`` with one normalised row per record of the ``source`` relation and
    return the row count.

    Rows get ``rid``, a dense integer, so graph work can use arrays. An identifier value
    carried by more than ``max_shared`` records is a placeholder ("13800000000" typed to
    get past a form), not evidence, and is dropped.
    """
    present = {str(row[0]) for row in con.execute(f"DESCRIBE {source}").fetchall()}
    missing = [column for column in REQUIRED_COLUMNS if column not in present]
    if missing:
        raise ValueError(f"input lacks column(s): {', '.join(missing)}")
    optional = {column: column if column in present else "NULL" for column in OPTIONAL_COLUMNS}
    con.execute(_raw_sql(source, optional))
    _register_lookup(con, "name_lookup", _distinct(con, "name"), _name_row, NAME_COLUMNS)
    _register_lookup(con, "address_lookup", _distinct(con, "address"), _address_row, ADDRESS_COLUMNS)
    _register_lookup(con, "city_lookup", _distinct(con, "city"), _city_row, ("city",))
    _register_lookup(con, "phone_lookup", _odd_phones(con), _phone_row, ("phone",))
    con.execute(_normalized_sql(target, max_shared))
    con.execute("DROP TABLE raw_records")
    (count,) = con.sql(f"SELECT count(*) FROM {target}").fetchall()
    return int(count[0])


def _raw_sql(source: str, optional: dict[str, str]) -> str:
    """Text columns trimmed, empty strings as NULL, plus the dense rid."""

    def text(expression: str, alias: str) -> str:
        return f"NULLIF(trim(CAST({expression} AS VARCHAR)), '') AS {alias}"

    columns = [text(column, column) for column in REQUIRED_COLUMNS if column != "record_id"]
    columns += [text(expression, alias) for alias, expression in optional.items()]
    digits_from, digits_to = _FULL_WIDTH_DIGITS
    digits = f"regexp_replace(translate(phone, '{digits_from}', '{digits_to}'), '[^0-9+]', '', 'g')"
    return f"""
        CREATE OR REPLACE TEMP TABLE raw_records AS
        SELECT *, nullif(regexp_extract({digits}, '^(?:\\+?86|0086)?(1[3-9][0-9]{{9}})$', 1), '') AS mobile
        FROM (
            SELECT (row_number() OVER () - 1)::INTEGER AS rid,
                   CAST(record_id AS VARCHAR) AS record_id, {", ".join(columns)}
            FROM {source}
        )
    """


def _normalized_sql(target: str, max_shared: int) -> str:
    identifiers = {
        "phone": "coalesce('+86' || r.mobile, p.phone)",
        "vin": """CASE WHEN regexp_full_match(v, '[A-HJ-NPR-Z0-9]{17}') THEN v END""",
        "wechat_id": "r.wechat_id",
        "id_hash": """coalesce(
            r.id_hash, CASE WHEN regexp_full_match(i, '[0-9]{17}[0-9X]') THEN md5(i) END)""",
        "email": """CASE WHEN contains(e, '@') THEN e END""",
        "plate": """CASE WHEN length(pl) BETWEEN 7 AND 8 THEN pl END""",
    }
    guarded = ",\n".join(
        f"""CASE WHEN {column} NOT IN (
                SELECT {column} FROM cleaned WHERE {column} IS NOT NULL
                GROUP BY {column} HAVING count(*) > {max_shared}
            ) THEN {column} END AS {column}"""
        if column in _PLACEHOLDER_PRONE
        else column
        for column in IDENTIFIER_COLUMNS
    )
    return f"""
        CREATE OR REPLACE TABLE {target} AS
        WITH cleaned AS (
            SELECT r.rid, r.record_id, r.source,
                   n.name_full, n.name_key, n.surname_key, n.gender,
                   {", ".join(f"{expression} AS {name}" for name, expression in identifiers.items())},
                   a.street, a.district, coalesce(a.city, c.city) AS city, r.pinned_key
            FROM (
                SELECT *,
                       upper(regexp_replace(vin, '[\\s\\-]', '', 'g')) AS v,
                       upper(regexp_replace(id_number, '\\s', '', 'g')) AS i,
                       lower(email) AS e,
                       upper(regexp_replace(plate, '[\\s·•・.\\-]', '', 'g')) AS pl
                FROM raw_records
            ) r
            LEFT JOIN name_lookup n ON n.value = r.name
            LEFT JOIN address_lookup a ON a.value = r.address
            LEFT JOIN city_lookup c ON c.value = r.city
            LEFT JOIN phone_lookup p ON p.value = r.phone
        )
        SELECT rid, record_id, source, {", ".join(NAME_COLUMNS)}, {guarded}, {", ".join(ADDRESS_COLUMNS)},
               pinned_key
        FROM cleaned
    """


def _distinct(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    rows = con.sql(f"SELECT DISTINCT {column} FROM raw_records WHERE {column} IS NOT NULL").to_arrow_table()
    return [str(value) for value in rows.column(0).to_pylist()]


def _odd_phones(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Phones the SQL pattern for mainland mobiles does not recognise: landlines, foreign
    numbers, typos. Few, so the full phonenumbers parser can afford them."""
    rows = con.sql("SELECT DISTINCT phone FROM raw_records WHERE phone IS NOT NULL AND mobile IS NULL")
    return [str(value) for value in rows.to_arrow_table().column(0).to_pylist()]


def _register_lookup(
    con: duckdb.DuckDBPyConnection,
    name: str,
    values: list[str],
    row: Callable[[str], tuple[str | None, ...]],
    columns: Iterable[str],
) -> None:
    """A table ``value -> columns`` computed in Python once per distinct value."""
    names = list(columns)
    computed = [row(value) for value in values]
    arrays = {"value": pa.array(values, pa.string())}
    for index, column in enumerate(names):
        arrays[column] = pa.array([item[index] for item in computed], pa.string())
    con.register(f"{name}_arrow", pa.table(arrays))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _name_row(raw: str) -> tuple[str | None, ...]:
    """(full name, pinyin key, surname key, gender). A salutation-only name (王先生) keeps
    only its surname and gender; a nickname ("Tony", "快乐每一天") keeps nothing, since
    agreeing or disagreeing on it says nothing about the person."""
    name = normalize_name(raw)
    salutation = parse_salutation(name)
    if salutation is not None:
        return None, None, pinyin_of(salutation.surname), salutation.gender
    if not _looks_like_chinese_name(name):
        return None, None, None, None
    surname, _ = split_surname(name)
    return name, pinyin_of(name), pinyin_of(surname), None


def _looks_like_chinese_name(name: str) -> bool:
    """Two to four Han characters (or a minority name with a middle dot)."""
    han = name.replace("·", "")
    return 2 <= len(han) <= 4 + 6 * ("·" in name) and all("\u3400" <= char <= "\u9fff" for char in han)


def _address_row(raw: str) -> tuple[str | None, ...]:
    """(street, district, city) of a free-text Chinese address."""
    text = _clean_text(raw)
    match = _ADDRESS.match(text)
    if match is None:  # the pattern's last group takes anything, but stay total
        return text or None, None, None
    city = match["city"]
    return match["street"] or None, match["district"], _city_key(city) if city else None


def _city_row(raw: str) -> tuple[str | None, ...]:
    return (_city_key(_clean_text(raw)) or None,)


def _phone_row(raw: str) -> tuple[str | None, ...]:
    try:
        return (normalize_phone(raw),)
    except ValueError:
        return (None,)


def _city_key(city: str) -> str:
    """'广州市' and '广州' are one city."""
    return city.removesuffix("市")


def _clean_text(raw: str) -> str:
    """Full-width folded, Simplified characters, no whitespace."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", raw)).translate(t2s_table())
