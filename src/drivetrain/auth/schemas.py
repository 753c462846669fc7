"""API shapes for the signed-in subject, the audit log and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class MeRead(BaseModel):
    username: str
    display_name: str
    role: str
    scope: str
    permissions: list[str]
    via: str


class AuditEntryRead(BaseModel):
    id: str
    at: datetime
    actor: str | None
    via: str
    token_id: str | None
    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, Any]


class TokenRead(BaseModel):
    """A token as listed: never the token itself, only the prefix it starts with."""

    id: str
    name: str
    prefix: str
    username: str
    created_at: datetime
    revoked_at: datetime | None
