"""Idempotency keys: a repeated create with the same key returns the first result instead of a second row.

The key is remembered in the same transaction as the row it created, so a request
that rolled back leaves no key behind and its retry runs afresh.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from drivetrain.auth.subject import AuthSubject
from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict
from drivetrain.kit.model_mixins import IdMixin


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "operation", "key"),)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(26))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


def fingerprint(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def check_replay(record: IdempotencyRecord, body: BaseModel) -> str:
    """The id the earlier request created; another body under the same key is a conflict."""
    if record.request_hash != fingerprint(body):
        raise Conflict("this Idempotency-Key was already used for a different request")
    return record.entity_id


def replayed(session: Session, subject: AuthSubject, operation: str, key: str, body: BaseModel) -> str | None:
    """The id an earlier request with this key created, or None; another body under the key is a conflict."""
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == subject.user_id,
            IdempotencyRecord.operation == operation,
            IdempotencyRecord.key == key,
        )
    )
    return None if record is None else check_replay(record, body)


def remember(
    session: Session, subject: AuthSubject, operation: str, key: str, body: BaseModel, entity_id: str
) -> None:
    record = IdempotencyRecord(
        user_id=subject.user_id,
        operation=operation,
        key=key,
        request_hash=fingerprint(body),
        entity_id=entity_id,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # A concurrent request with the same key committed first; this one must not create a second row.
        raise Conflict(
            "a request with this Idempotency-Key is in progress or done; retry to get its result"
        ) from None
