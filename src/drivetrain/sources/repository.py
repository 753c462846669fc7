"""All source-system queries. Sources are HQ-level (no dealer): ``readable`` shows them to scope all only."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Select,
    String,
    any_,
    bindparam,
    false,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import TimelineEvent
from drivetrain.db import UTCDateTime
from drivetrain.kit.errors import NotFound
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.sources.models import ImportProfile, ImportRun, Source, SourceRecord

UPDATED_ON_CHANGE = ("raw", "normalized", "row_hash", "updated_at", "last_import_id")

STAGING = "source_record_incoming"
# The link to a customer is identity resolution's to set: an import neither sets nor clears it.
_RECORD_COLUMNS = [c for c in SourceRecord.__table__.c if c.name != "customer_id"]
WRITTEN = tuple(c.name for c in _RECORD_COLUMNS)
"""The columns an import writes."""
COPY_TYPES = tuple("timestamptz" if isinstance(c.type, UTCDateTime) else "text" for c in _RECORD_COLUMNS)
"""How each copied value goes in binary: JSON and strings as text (the binary form of ``json`` is its
text, checked by the server as it is copied), times as times."""
_COPY_SQL = f"COPY {STAGING} ({', '.join(WRITTEN)}) FROM STDIN (FORMAT BINARY)"
_MERGE_SQL = (
    f"INSERT INTO source_record ({', '.join(WRITTEN)}) SELECT {', '.join(WRITTEN)} FROM {STAGING}"
    " ON CONFLICT (source_id, external_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in UPDATED_ON_CHANGE)
    + " WHERE source_record.row_hash <> excluded.row_hash"
)


class SourceRepository(Repository[Source]):
    model = Source
    missing = "no such source system"

    def readable(self, subject: AuthSubject) -> Select[Source]:
        stmt = select(Source)
        return stmt if subject.is_hq else stmt.where(false())

    def by_name(self, subject: AuthSubject, name: str) -> Source:
        found = self.session.scalar(self.readable(subject).where(Source.name == name))
        if found is None:
            raise NotFound(f"no source system named {name!r}")
        return found

    def all(self, subject: AuthSubject) -> list[Source]:
        return list(self.session.scalars(self.readable(subject).order_by(Source.name)))

    def name_taken(self, name: str) -> bool:
        return self.session.scalar(select(Source.id).where(Source.name == name)) is not None

    def profiles(self, source_ids: Sequence[str]) -> list[ImportProfile]:
        stmt = select(ImportProfile).where(ImportProfile.source_id.in_(source_ids))
        return list(self.session.scalars(stmt.order_by(ImportProfile.name)))

    def profile(self, source: Source, name: str) -> ImportProfile | None:
        stmt = select(ImportProfile).where(ImportProfile.source_id == source.id, ImportProfile.name == name)
        return self.session.scalar(stmt)

    def records(
        self, source: Source, *, external_id: str | None, cursor: str | None, limit: int
    ) -> list[SourceRecord]:
        """Newest first; ``limit + 1`` rows (see kit.pagination). ``source`` comes from ``get``."""
        stmt = select(SourceRecord).where(SourceRecord.source_id == source.id)
        if external_id is not None:
            stmt = stmt.where(SourceRecord.external_id == external_id)
        return list(self.session.scalars(keyset(stmt, SourceRecord.id, cursor=cursor, limit=limit)))

    def runs(self, source: Source, *, cursor: str | None, limit: int) -> list[ImportRun]:
        stmt = select(ImportRun).where(ImportRun.source_id == source.id)
        return list(self.session.scalars(keyset(stmt, ImportRun.id, cursor=cursor, limit=limit)))

    def run_mappings(self, run_ids: set[str]) -> dict[str, dict[str, str]]:
        """The column mapping each run imported with: which raw cells are personal data."""
        if not run_ids:
            return {}
        rows = self.session.execute(select(ImportRun.id, ImportRun.mapping).where(ImportRun.id.in_(run_ids)))
        return {run_id: mapping for run_id, mapping in rows}

    def stored_hashes(self, source: Source, external_ids: Sequence[str]) -> dict[str, str]:
        """external_id -> row_hash of the records of ``source`` already stored, among ``external_ids``."""
        if not external_ids:
            return {}
        if self.session.connection().dialect.name == "postgresql":  # one array, not a parameter a key
            among = SourceRecord.external_id == any_(
                bindparam("external_ids", type_=postgresql.ARRAY(String))
            )
        else:  # one expanding parameter: the keys bound as they are, not each made a literal first
            among = SourceRecord.external_id.in_(bindparam("external_ids", expanding=True))
        stmt = select(SourceRecord.external_id, SourceRecord.row_hash).where(
            SourceRecord.source_id == source.id, among
        )
        found = self.session.execute(stmt, {"external_ids": list(external_ids)})
        return {external_id: row_hash for external_id, row_hash in found}

    def write_records(self, *, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        """Insert ``new`` records (keys ``stored_hashes`` did not find in this transaction) and replace
        ``changed`` ones by an upsert that leaves a row whose ``row_hash`` is unchanged alone (even if
        another import wrote it meanwhile).

        SQLite has one writer at a time, and a transaction whose snapshot is stale cannot write at all,
        so a key not found is still new when the insert runs: a plain insert, which costs SQLite about
        half an upsert. On PostgreSQL another import may have added the key since: new records go
        through the upsert too, copied into a staging table first (see ``_copy_upsert``).

        Rows go to the driver as they are: ``raw`` and ``normalized`` already JSON text, times already
        bound (see ``bound_time``), since SQLAlchemy's per-row processing would cost more than the insert."""
        connection = self.session.connection()
        if connection.dialect.name == "sqlite":
            _execute_many(connection, _insert_sql(connection.dialect), new)
            _execute_many(connection, _upsert_sql(connection.dialect), changed)
        else:
            _copy_upsert(connection, new + changed)

    def record_ids_named(self, name: str) -> Select[str]:
        """The ids of the records of the source system called ``name``, as a subquery (the customer
        timeline's source filter)."""
        return (
            select(SourceRecord.id)
            .join(Source, Source.id == SourceRecord.source_id)
            .where(Source.name == name)
        )

    def names_on_timeline(self, customer_id: str) -> list[str]:
        """The source systems whose records are on this customer's timeline, by name."""
        return list(
            self.session.scalars(
                select(Source.name)
                .join(SourceRecord, SourceRecord.source_id == Source.id)
                .join(TimelineEvent, TimelineEvent.source_record_id == SourceRecord.id)
                .where(TimelineEvent.customer_id == customer_id)
                .group_by(Source.name)
                .order_by(Source.name)
            )
        )

    def records_with_events(
        self, which: ColumnElement[bool], event_columns: Sequence[str], *, limit: int | None = None
    ) -> list[tuple[Any, ...]]:
        """The records, their sources and their current timeline events, in one statement, in id
        order: (record id, customer id, normalized, source name, source type, event id, *event
        columns). Records linked to nobody and without an event have nothing to project: skipped."""
        stmt = (
            select(
                SourceRecord.id,
                SourceRecord.customer_id,
                SourceRecord.normalized,
                Source.name,
                Source.type,
                TimelineEvent.id,
                *(getattr(TimelineEvent, column) for column in event_columns),
            )
            .join(Source, Source.id == SourceRecord.source_id)
            .outerjoin(TimelineEvent, TimelineEvent.source_record_id == SourceRecord.id)
            .where(which, or_(SourceRecord.customer_id.is_not(None), TimelineEvent.id.is_not(None)))
            .order_by(SourceRecord.id)
            .limit(limit)
        )
        return [tuple(row) for row in self.session.execute(stmt)]

    def bound_time(self, at: datetime) -> Any:
        """``at`` as the driver stores it in a record's time columns. For SQLite, the text sqlite3's
        adapter makes of it (once here, not twice a row in the driver)."""
        dialect = self.session.connection().dialect
        processor = SourceRecord.__table__.c.updated_at.type.bind_processor(dialect)
        bound = processor(at) if processor is not None else at
        if dialect.name != "sqlite":
            return bound
        adapter = sqlite3.adapters.get((type(bound), sqlite3.PrepareProtocol))
        return adapter(bound) if adapter is not None else bound


def _execute_many(
    connection: Connection, statement: tuple[str, tuple[str, ...] | None], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    sql, order = statement
    params: list[Any] = rows if order is None else list(map(itemgetter(*order), rows))
    connection.exec_driver_sql(sql, params)


def _copy_upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert ``rows`` on PostgreSQL: a binary COPY into a temporary table, then one insert from it.
    A statement a row, even sent together, cost the driver three times and the server a third more;
    text COPY's escaping of the JSON costs twice what binary does. The staging table lives until the
    transaction ends and is emptied after each batch."""
    if not rows:
        return
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} (LIKE source_record INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
        copy.set_types(COPY_TYPES)
        for row in map(itemgetter(*WRITTEN), rows):
            copy.write_row(row)
    connection.exec_driver_sql(_MERGE_SQL)
    connection.exec_driver_sql(f"TRUNCATE {STAGING}")


@lru_cache(maxsize=4)
def _insert_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """A plain multi-row insert of records, compiled once (see ``_compiled``)."""
    return _compiled(_insert(), dialect)


@lru_cache(maxsize=4)
def _upsert_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """SQLite's upsert of changed records, compiled once."""
    stmt = _insert()
    stmt = stmt.on_conflict_do_update(
        index_elements=["source_id", "external_id"],
        set_={name: stmt.excluded[name] for name in UPDATED_ON_CHANGE},
        where=SourceRecord.row_hash != stmt.excluded.row_hash,
    )
    return _compiled(stmt, dialect)


def _insert() -> sqlite.Insert:
    return sqlite.insert(SourceRecord).values({name: bindparam(name) for name in WRITTEN})


def _compiled(stmt: sqlite.Insert, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The statement's SQL, with the order of its parameters when the driver takes them by position."""
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return compiled.string, order
