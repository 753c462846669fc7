"""/api/v1/cases/{case_id}/approvals, /api/v1/approvals and /api/v1/approval-authority (the matrix).

A cell of the matrix is set with PUT (``max_amount`` null: no limit) and removed with DELETE: a role
without a cell may not approve that kind at all.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.roles import Role
from drivetrain.cases.approvals import service
from drivetrain.cases.approvals.authority import to_yuan
from drivetrain.cases.approvals.repository import ApprovalFilter, ApprovalRepository
from drivetrain.cases.approvals.schemas import (
    ApprovalCreate,
    ApprovalDecision,
    ApprovalRead,
    AuthorityRead,
    AuthorityUpdate,
)
from drivetrain.cases.auth import CaseConfigurer, CaseReader, CaseWorker
from drivetrain.cases.models import ApprovalKind, ApprovalStatus, AuthorityLimit
from drivetrain.cases.repository import CaseRepository
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text

router = APIRouter(tags=["approvals"])


@router.post(
    "/cases/{case_id}/approvals",
    status_code=201,
    summary="Ask for a return, refund, goodwill, extended-warranty gift or discount on a case",
)
def request_approval(
    case_id: str, body: ApprovalCreate, subject: CaseWorker, session: SessionDep
) -> ApprovalRead:
    case = CaseRepository(session).get_readable(subject, case_id)
    approval = service.request_approval(session, subject, case, data=body)
    return service.approval_read(session, approval)


@router.get("/cases/{case_id}/approvals", summary="A case's approval requests, oldest first")
def case_approvals(case_id: str, subject: CaseReader, session: SessionDep) -> list[ApprovalRead]:
    case = CaseRepository(session).get_readable(subject, case_id)
    return service.approval_reads(session, case.id)


@router.get("/approvals", summary="Approval requests you may see, newest first; mine=true: those you hold")
def list_approvals(
    subject: CaseReader,
    session: SessionDep,
    status: ApprovalStatus | None = None,
    mine: Annotated[bool, Query(description="Only requests waiting on you to decide")] = False,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[ApprovalRead]:
    filters = ApprovalFilter(
        status=status.value if status else None, approver_id=subject.user_id if mine else None
    )
    rows = ApprovalRepository(session).search(subject, filters, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda approval: approval.id)
    return Page(items=service.approval_reads_of(session, items), next_cursor=next_cursor)


@router.get("/approvals/{approval_id}", summary="An approval request")
def get_approval(approval_id: str, subject: CaseReader, session: SessionDep) -> ApprovalRead:
    approval = ApprovalRepository(session).get_readable(subject, approval_id)
    return service.approval_read(session, approval)


@router.post(
    "/approvals/{approval_id}/decision",
    summary="Approve or reject (a comment is required to reject); above your limit, approving forwards it up",
)
def decide(
    approval_id: str, body: ApprovalDecision, subject: CaseWorker, session: SessionDep
) -> ApprovalRead:
    approval = ApprovalRepository(session).get_readable(subject, approval_id)
    return service.approval_read(session, service.decide(session, subject, approval, data=body))


def _authority_read(cell: AuthorityLimit) -> AuthorityRead:
    most = cell.max_amount_cents
    return AuthorityRead(
        kind=ApprovalKind(cell.kind),
        role=Role(cell.role),
        max_amount=to_yuan(most) if most is not None else None,
        updated_at=cell.updated_at,
    )


@router.get(
    "/approval-authority", summary="The authority matrix: the most each role may approve of each kind"
)
def authority_matrix(subject: CaseReader, session: SessionDep) -> list[AuthorityRead]:
    return [_authority_read(cell) for cell in ApprovalRepository(session).matrix()]


@router.put(
    "/approval-authority/{kind}/{role}", summary="Set the most a role may approve of a kind (null: no limit)"
)
def put_authority(
    kind: ApprovalKind, role: Role, body: AuthorityUpdate, subject: CaseConfigurer, session: SessionDep
) -> AuthorityRead:
    return _authority_read(service.set_authority(session, subject, kind, role, data=body))


@router.delete(
    "/approval-authority/{kind}/{role}", status_code=204, summary="The role may no longer approve this kind"
)
def delete_authority(kind: ApprovalKind, role: Role, subject: CaseConfigurer, session: SessionDep) -> None:
    service.remove_authority(session, subject, kind, role)
