"""The base every domain repository inherits: one access-aware statement per model, a get that answers
404 outside it, and batch writers.

``readable(subject)`` is where a repository applies data scope (``org.repository.scoped``); every read for
a subject starts from it, so scope is written once per model. A row outside it reads as missing, for
reads and writes alike, so existence does not leak across dealers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from drivetrain.db import Base
from drivetrain.kit.errors import NotFound

M = TypeVar("M", bound=Base)


class Repository(Generic[M]):
    """Queries for one model (and those that hang off it). Subclasses set ``model`` and ``missing``
    and write ``readable``; a model only HQ reads keeps the default, which sees every row."""

    model: ClassVar[type[Any]]
    missing: ClassVar[str] = "no such record"
    """The 404's detail: what the caller asked for, in words."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def readable(self, subject: Any) -> Select[M]:
        """Every row ``subject`` may see. The default sees all: override it for scoped data."""
        return select(self.model)

    def get_readable(self, subject: Any, row_id: str) -> M:
        """The row with this id if ``subject`` may see it; otherwise ``NotFound``, exactly as if missing."""
        row: M | None = self.session.scalar(self.readable(subject).where(self.model.id == row_id))
        if row is None:
            raise NotFound(self.missing)
        return row

    def by_id(self, row_id: str) -> M | None:
        """The row regardless of scope: for the worker and for services that already checked access."""
        row: M | None = self.session.get(self.model, row_id)
        return row

    def add(self, row: M) -> M:
        self.session.add(row)
        return row

    def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """One INSERT for many rows: history, timeline, events, outbox written by a sweep. With
        ``render_nulls`` a None stays in the statement, so the ORM does not split the batch wherever the
        pattern of None columns changes (a case with no dealer beside one with a dealer)."""
        if rows:
            self.session.execute(insert(self.model).execution_options(render_nulls=True), list(rows))

    def update_many(self, ids: Iterable[str], **values: Any) -> int:
        """Set the same values on the rows with these ids; how many rows changed."""
        wanted = list(ids)
        if not wanted:
            return 0
        result = self.session.execute(update(self.model).where(self.model.id.in_(wanted)).values(**values))
        return int(getattr(result, "rowcount", 0) or 0)
