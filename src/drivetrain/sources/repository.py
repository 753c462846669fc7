"""All source-system queries. Sources are HQ-level (no dealer): ``readable`` shows them to scope all only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Dialect, Select, bindparam, cast, false, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from drivetrain.auth.roles import Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.errors import NotFound
from drivetrain.kit.pagination import keyset
from drivetrain.sources.models import ImportProfile, ImportRun, Source, SourceRecord

UPDATED_ON_CHANGE = ("raw", "normalized", "row_hash", "updated_at", "last_import_id")


class SourceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def readable(self, subject: AuthSubject) -> Select[Source]:
        stmt = select(Source)
        return stmt if subject.scope is Scope.ALL else stmt.where(false())

    def get(self, subject: AuthSubject, source_id: str) -> Source:
        found = self.session.scalar(self.readable(subject).where(Source.id == source_id))
        if found is None:
            raise NotFound("no such source system")
        return found

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
        stmt = select(SourceRecord.external_id, SourceRecord.row_hash).where(
            SourceRecord.source_id == source.id, SourceRecord.external_id.in_(external_ids)
        )
        return {external_id: row_hash for external_id, row_hash in self.session.execute(stmt)}

    def upsert_records(self, rows: list[dict[str, Any]]) -> None:
        """Insert new records and replace changed ones, in one multi-row upsert: a row whose ``row_hash``
        is unchanged is left alone (even if another import wrote it meanwhile).

        ``rows`` go to the driver as they are: ``raw`` and ``normalized`` already JSON text, times already
        bound (see ``bound_time``), since SQLAlchemy's per-row processing would cost more than the insert."""
        if not rows:
            return
        connection = self.session.connection()
        sql, order = _upsert_sql(connection.dialect)
        params: list[Any] = rows if order is None else list(map(itemgetter(*order), rows))
        connection.exec_driver_sql(sql, params)

    def bound_time(self, at: datetime) -> Any:
        """``at`` as the driver stores it in a record's time columns."""
        dialect = self.session.connection().dialect
        processor = SourceRecord.__table__.c.updated_at.type.bind_processor(dialect)
        return processor(at) if processor is not None else at


@lru_cache(maxsize=4)
def _upsert_sql(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The upsert for this dialect, compiled once, with the order of its parameters when positional."""
    columns = SourceRecord.__table__.c
    # The link to a customer is identity resolution's to set: an import neither sets nor clears it.
    values: dict[str, Any] = {c.name: bindparam(c.name) for c in columns if c.name != "customer_id"}
    stmt: postgresql.Insert | sqlite.Insert
    if dialect.name == "postgresql":
        values |= {name: cast(bindparam(name), JSON) for name in ("raw", "normalized")}
        stmt = postgresql.insert(SourceRecord).values(values)
    else:
        stmt = sqlite.insert(SourceRecord).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["source_id", "external_id"],
        set_={name: stmt.excluded[name] for name in UPDATED_ON_CHANGE},
        where=SourceRecord.row_hash != stmt.excluded.row_hash,
    )
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return compiled.string, order
