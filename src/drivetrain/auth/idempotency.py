"""Idempotency keys: a repeated create with the same key returns the first result instead of a second row.

The key is remembered in the same transaction as the row it created, so a request
that rolled back leaves no key behind and its retry runs afresh.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drivetrain.auth.models import IdempotencyRecord
from drivetrain.auth.repository import IdempotencyRepository
from drivetrain.auth.subject import AuthSubject
from drivetrain.db import add_new
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict
from drivetrain.kit.ids import new_id


def fingerprint(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


def check_replay(record: IdempotencyRecord, body: BaseModel) -> str:
    """The id the earlier request created; another body under the same key is a conflict."""
    if record.request_hash != fingerprint(body):
        raise Conflict("this Idempotency-Key was already used for a different request")
    return record.entity_id


def replayed(session: Session, subject: AuthSubject, operation: str, key: str, body: BaseModel) -> str | None:
    """The id an earlier request with this key created, or None; another body under the key is a conflict."""
    record = IdempotencyRepository(session).find(subject.user_id, operation, key)
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


def recorded_many(
    session: Session, operation: str, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], IdempotencyRecord]:
    """The keys of a batch already remembered, by (user id, key): read once, before the batch decides."""
    return IdempotencyRepository(session).find_many(operation, keys)


def remember_in_batch(
    session: Session, subject: AuthSubject, operation: str, key: str, body: BaseModel, entity_id: str
) -> IdempotencyRecord:
    """``remember`` for a batch inside ``db.bulk_rows``: the record goes in with the batch's others in one
    INSERT (no savepoint per key), and is returned so later requests of the batch replay it from memory.
    A racing duplicate surfaces as IntegrityError at the flush; the batch's caller rolls back and retries."""
    record = IdempotencyRecord(
        id=new_id(),
        user_id=subject.user_id,
        operation=operation,
        key=key,
        request_hash=fingerprint(body),
        entity_id=entity_id,
        created_at=clock.now(),
    )
    add_new(session, record)
    return record
