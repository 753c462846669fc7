"""Keyset pagination over time-ordered ids: ``{"items": [...], "next_cursor": ...}``."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.ids import is_id

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        value = ""
    if not is_id(value):
        raise InvalidInput("cursor", "not a cursor this API returned")
    return value


def keyset(
    stmt: Select[Any], id_col: InstrumentedAttribute[str], *, cursor: str | None, limit: int
) -> Select[Any]:
    """Newest first; one row more than asked so we know whether a next page exists."""
    if cursor:
        stmt = stmt.where(id_col < decode_cursor(cursor))
    return stmt.order_by(id_col.desc()).limit(limit + 1)


def page_of(rows: Sequence[T], *, limit: int, id_of: Any) -> tuple[list[T], str | None]:
    """Split the ``limit + 1`` rows from :func:`keyset` into a page and the next cursor."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(id_of(items[-1])) if len(rows) > limit and items else None
    return items, next_cursor
