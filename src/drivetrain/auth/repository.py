"""Audit entries and API tokens, read through the subject's scope (HQ-level rows for HQ only)."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import ApiToken, AuditEntry, IdempotencyRecord, User
from drivetrain.auth.roles import Permission
from drivetrain.auth.scope import dealer_condition, scoped
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def readable(self, subject: AuthSubject) -> Select[AuditEntry]:
        return scoped(
            select(AuditEntry), subject, dealer_col=AuditEntry.dealer_id, owner_col=AuditEntry.actor_id
        )

    def search(
        self, subject: AuthSubject, *, entity_id: str | None, cursor: str | None, limit: int
    ) -> list[tuple[AuditEntry, str | None]]:
        stmt = (
            self.readable(subject).add_columns(User.username).outerjoin(User, User.id == AuditEntry.actor_id)
        )
        if entity_id:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        return [
            (entry, username)
            for entry, username in self.session.execute(
                keyset(stmt, AuditEntry.id, cursor=cursor, limit=limit)
            )
        ]


class TokenRepository:
    """API tokens: everyone sees their own; whoever manages staff also sees the tokens of the
    accounts in their scope (a store manager those of their store, HQ every one)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def readable(self, subject: AuthSubject) -> Select[ApiToken]:
        """Tokens joined to their account (whose username callers add as a column)."""
        stmt = select(ApiToken).join(User, User.id == ApiToken.user_id)
        own = ApiToken.user_id == subject.user_id
        if not subject.can(Permission.STAFF_MANAGE):
            return stmt.where(own)
        managed = dealer_condition(subject, User.dealer_id)
        return stmt if managed is None else stmt.where(or_(own, managed))

    def get(self, subject: AuthSubject, token_id: str) -> tuple[ApiToken, str] | None:
        stmt = self.readable(subject).add_columns(User.username).where(ApiToken.id == token_id)
        row = self.session.execute(stmt).first()
        return (row[0], row[1]) if row else None

    def search(
        self,
        subject: AuthSubject,
        *,
        username: str | None,
        include_revoked: bool,
        cursor: str | None,
        limit: int,
    ) -> list[tuple[ApiToken, str]]:
        stmt = self.readable(subject).add_columns(User.username)
        if username:
            stmt = stmt.where(User.username == username)
        if not include_revoked:
            stmt = stmt.where(ApiToken.revoked_at.is_(None))
        rows = self.session.execute(keyset(stmt, ApiToken.id, cursor=cursor, limit=limit))
        return [(token, name) for token, name in rows]


class IdempotencyRepository(Repository[IdempotencyRecord]):
    """Keys are the system's own bookkeeping: looked up by their owner, never listed for a subject."""

    model = IdempotencyRecord
    missing = "no such idempotency key"

    def find(self, user_id: str, operation: str, key: str) -> IdempotencyRecord | None:
        return self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id,
                IdempotencyRecord.operation == operation,
                IdempotencyRecord.key == key,
            )
        )

    def find_many(
        self, operation: str, keys: set[tuple[str, str]]
    ) -> dict[tuple[str, str], IdempotencyRecord]:
        """By (user id, key). IN per column, which the unique index answers (a row-value IN scans SQLite)."""
        if not keys:
            return {}
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.user_id.in_({user for user, _ in keys}),
            IdempotencyRecord.operation == operation,
            IdempotencyRecord.key.in_({key for _, key in keys}),
        )
        return {(r.user_id, r.key): r for r in self.session.scalars(stmt) if (r.user_id, r.key) in keys}
