"""Engines, sessions and the declarative base.

SQLite (the embedded default) gets WAL, foreign keys and a busy timeout, and all
writes go through one connection that opens its transactions with
``BEGIN IMMEDIATE``: writers queue in the process instead of failing with
``database is locked`` deep inside a transaction, and reads never wait for them.
PostgreSQL uses one ordinary pooled engine for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, DateTime, Engine, MetaData, Table, create_engine, event, insert, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from drivetrain.config import get_settings, sqlite_path

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always hands back timezone-aware datetimes (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use kit.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _begin_*)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_engine(url: str, *, writer: bool, echo: bool) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    in_memory = path is None
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}, "echo": echo}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    elif writer:
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
    else:
        kwargs.update(pool_size=8, max_overflow=8)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


@dataclass
class Database:
    """The reader and writer engines of one database URL (the same engine outside SQLite).

    ``pinned`` binds every session to one connection inside an outer transaction, each
    session committing to a savepoint: tests use it so each test rolls back whole.
    """

    url: str
    reader: Engine
    writer: Engine
    pinned: Connection | None = None

    @property
    def dialect(self) -> str:
        return self.writer.dialect.name

    def session(self, *, write: bool) -> Session:
        if self.pinned is not None:
            return Session(bind=self.pinned, expire_on_commit=False, join_transaction_mode="create_savepoint")
        return Session(bind=self.writer if write else self.reader, expire_on_commit=False)

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file now, off the request path.

        Otherwise the commit that crosses SQLite's auto-checkpoint threshold copies (and syncs)
        the pages itself, and every request waiting for the single writer waits with it.
        PASSIVE never waits for a reader or a writer. Nothing to do elsewhere.
        """
        if self.dialect != "sqlite" or sqlite_path(self.url) is None or self.pinned is not None:
            return
        connection = self.reader.raw_connection()
        try:
            connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            connection.close()

    def dispose(self) -> None:
        self.reader.dispose()
        self.writer.dispose()


def open_database(url: str | None = None, *, echo: bool | None = None) -> Database:
    settings = get_settings()
    url = url or settings.database_url
    echo = settings.log_sql if echo is None else echo
    if url.startswith("sqlite"):
        writer = _sqlite_engine(url, writer=True, echo=echo)
        reader = writer if sqlite_path(url) is None else _sqlite_engine(url, writer=False, echo=echo)
        return Database(url, reader, writer)
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, echo=echo)
    return Database(url, engine, engine)


_database: Database | None = None


def database() -> Database:
    """The process-wide database, opened on first use from the settings."""
    global _database
    if _database is None:
        _database = open_database()
    return _database


def use_database(db: Database | None) -> None:
    """Swap the process-wide database (CLI and tests)."""
    global _database
    _database = db


@contextmanager
def unit_of_work(db: Database | None = None) -> Iterator[Session]:
    """A write session that commits when the block ends cleanly (CLI and jobs)."""
    session = (db or database()).session(write=True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_BULK_ROWS = "drivetrain.bulk_rows"
_BULK_NEW = "drivetrain.bulk_new"
_PendingRows = dict[tuple[type[Base], tuple[str, ...]], list[dict[str, Any]]]  # by table and columns


def append_row(session: Session, model: type[Base], **values: Any) -> None:
    """Add a row nothing in the transaction reads back: history, audit, timeline, events, outbox.

    Normally an ORM object added to the session. Inside ``bulk_rows`` the row waits as a dict and
    goes in with the others of its table in one INSERT: a batch of lead captures writes hundreds of
    these, and the ORM's bookkeeping per object costs far more than the database does.
    """
    pending: _PendingRows | None = session.info.get(_BULK_ROWS)
    if pending is None:
        session.add(model(**values))
    else:
        pending.setdefault((model, tuple(values)), []).append(values)


def add_new(session: Session, *objects: Base) -> None:
    """Add new objects that nothing in the transaction queries back (a captured lead, its prospect).

    Normally ``session.add_all``. Inside ``bulk_rows`` they go in by Core at the end of the block,
    one INSERT per table and before the session's flush (which may hold rows referring to them),
    and then join the session as persistent objects, as after a flush: their column defaults are
    applied to them, and later changes to them are flushed as updates. References between them
    must be set as foreign-key columns, not through relationships, and a table's first object must
    come after those it refers to.
    """
    pending: list[Base] | None = session.info.get(_BULK_NEW)
    if pending is None:
        session.add_all(objects)
    else:
        pending.extend(objects)


@contextmanager
def bulk_rows(session: Session) -> Iterator[None]:
    """Objects from ``add_new`` and rows from ``append_row`` in the block are inserted at its end:
    the new objects first, then a flush of the session, then the rows; column defaults apply."""
    pending: _PendingRows = {}
    new: list[Base] = []
    session.info[_BULK_ROWS], session.info[_BULK_NEW] = pending, new
    try:
        yield
    finally:
        session.info.pop(_BULK_ROWS, None)
        session.info.pop(_BULK_NEW, None)
    _insert_new(session, new)
    session.flush()
    for (model, attributes), rows in pending.items():
        columns = _column_names(model, attributes)
        if columns != attributes:
            rows = [dict(zip(columns, row.values(), strict=True)) for row in rows]
        table = cast(Table, model.__table__)
        session.execute(insert(table), rows)  # Core, not the ORM's bulk path: no work per row


def _insert_new(session: Session, objects: list[Base]) -> None:
    """Tables in the order their first object came; one INSERT per table and set of columns."""
    by_table: dict[Table, dict[tuple[str, ...], list[dict[str, Any]]]] = {}
    for obj in objects:
        row = _new_row(obj)
        by_table.setdefault(cast(Table, obj.__table__), {}).setdefault(tuple(row), []).append(row)
    for table, groups in by_table.items():
        for rows in groups.values():
            session.execute(insert(table), rows)
    for obj in objects:
        make_transient_to_detached(obj)  # their rows exist now: persistent, with nothing to flush
    session.add_all(objects)


def _new_row(obj: Base) -> dict[str, Any]:
    """The INSERT values of a new object, as the ORM's flush would send them, set on the object too:
    an unset (or None) attribute of a column with a Python default gets the default, one with only a
    server default is left to the database (and loaded when read), any other unset one is None."""
    values = inspect(obj).dict
    row: dict[str, Any] = {}
    for key, name, default, server_side in _insert_plan(type(obj)):
        value = values.get(key)
        if value is None:
            if default is not None:
                value = default.arg(None) if default.is_callable else default.arg
                setattr(obj, key, value)
            elif server_side:
                continue
            elif key not in values:
                setattr(obj, key, None)
        row[name] = value
    return row


_PLANS: dict[type[Base], list[tuple[str, str, Any, bool]]] = {}


def _insert_plan(model: type[Base]) -> list[tuple[str, str, Any, bool]]:
    """Per column attribute: its key, its column's name, its Python default (scalar or callable), and
    whether the database has a default of its own."""
    if model not in _PLANS:
        plan = []
        for attribute in inspect(model).column_attrs:
            column = attribute.columns[0]
            default = column.default
            python_default = (
                default if default is not None and (default.is_scalar or default.is_callable) else None
            )
            plan.append(
                (
                    attribute.key,
                    column.name,
                    python_default,
                    column.server_default is not None or default is not None,
                )
            )
        _PLANS[model] = plan
    return _PLANS[model]


def _column_names(model: type[Base], attributes: tuple[str, ...]) -> tuple[str, ...]:
    mapper = inspect(model)
    return tuple(mapper.get_property(name).columns[0].name for name in attributes)
