"""/api/v1/me, /api/v1/audit and /api/v1/tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from drivetrain.auth import service
from drivetrain.auth.deps import SessionDep, forget_token
from drivetrain.auth.gates import AuditReader, SignedIn
from drivetrain.auth.repository import UserRepository
from drivetrain.auth.schemas import AuditEntryRead, MeRead, TokenRead
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text
from drivetrain.org.repository import AuditRepository, TokenRepository

router = APIRouter(tags=["auth"])


@router.get("/me", summary="Who this token or session is")
def me(subject: SignedIn) -> MeRead:
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
    subject: AuditReader,
    session: SessionDep,
    entity_id: Annotated[Text | None, Query(max_length=26)] = None,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[AuditEntryRead]:
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


@router.get("/tokens", summary="API tokens: your own, and those of the staff you manage")
def list_tokens(
    subject: SignedIn,
    session: SessionDep,
    username: Annotated[Text | None, Query(max_length=60)] = None,
    include_revoked: bool = False,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[TokenRead]:
    rows = TokenRepository(session).search(
        subject, username=username, include_revoked=include_revoked, cursor=cursor, limit=limit
    )
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda row: row[0].id)
    return Page(
        items=[
            TokenRead(
                id=t.id,
                name=t.name,
                prefix=t.prefix,
                username=name,
                created_at=t.created_at,
                revoked_at=t.revoked_at,
            )
            for t, name in items
        ],
        next_cursor=next_cursor,
    )


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    summary="Revoke a token at once; revoking it again changes nothing",
)
def revoke_token(token_id: str, subject: SignedIn, session: SessionDep) -> Response:
    token = TokenRepository(session).get_readable(subject, token_id)
    owner = UserRepository(session).by_id(token.user_id)
    assert owner is not None  # the token row references it
    service.revoke_token(session, subject, token, owner=owner)
    forget_token(token.token_hash)
    return Response(status_code=204)
