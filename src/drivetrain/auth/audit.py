"""Every write leaves an audit entry in the same transaction: who, when, what changed, via which token."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.auth.subject import AuthSubject
from drivetrain.db import append_row

REDACTED_FIELDS = frozenset({"password_hash", "id_number_hash", "token_hash"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields that changed; secrets show as ``"***"``."""
    changes: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            if name in REDACTED_FIELDS:
                changes[name] = ["***" if old else None, "***" if new else None]
            else:
                changes[name] = [_plain(old), _plain(new)]
    return changes


def record(
    session: Session,
    subject: AuthSubject,
    *,
    action: str,
    entity_type: str,
    entity_id: str,
    dealer_id: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    append_row(
        session,
        AuditEntry,
        actor_id=subject.user_id or None,
        token_id=subject.token_id,
        via=subject.via,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        dealer_id=dealer_id,
        changes=changes or {},
    )
