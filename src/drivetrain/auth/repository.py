"""Audit entries and API tokens, read through the subject's scope (HQ-level rows for HQ only)."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import ApiToken, AuditEntry, User
from drivetrain.auth.roles import Permission
from drivetrain.auth.scope import dealer_condition, scoped
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.pagination import keyset


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
