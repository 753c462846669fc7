"""/api/v1/me and /api/v1/audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep, SubjectDep
from drivetrain.auth.repository import AuditRepository
from drivetrain.auth.roles import Permission
from drivetrain.auth.schemas import AuditEntryRead, MeRead
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text

router = APIRouter(tags=["auth"])


@router.get("/me", summary="Who this token or session is")
def me(subject: SubjectDep) -> MeRead:
    return MeRead(
        username=subject.username,
        display_name=subject.display_name,
        role=subject.role.value,
        scope=subject.scope.value,
        permissions=sorted(p.value for p in subject.permissions),
        via=subject.via,
    )


@router.get("/audit", summary="Audit log, newest first")
def audit_log(
    subject: SubjectDep,
    session: SessionDep,
    entity_id: Annotated[Text | None, Query(max_length=26)] = None,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[AuditEntryRead]:
    subject.require(Permission.AUDIT_READ)
    rows = AuditRepository(session).search(subject, entity_id=entity_id, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda row: row[0].id)
    return Page(
        items=[
            AuditEntryRead(
                id=e.id,
                at=e.at,
                actor=username,
                via=e.via,
                token_id=e.token_id,
                action=e.action,
                entity_type=e.entity_type,
                entity_id=e.entity_id,
                changes=e.changes,
            )
            for e, username in items
        ],
        next_cursor=next_cursor,
    )
