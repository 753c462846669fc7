"""API shapes for the signed-in subject and the audit log."""

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
