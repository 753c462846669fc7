"""Audit entries, read through the subject's scope (HQ-level entries for HQ only)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry, User
from drivetrain.auth.scope import scoped
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
