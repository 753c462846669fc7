"""All approval queries. An approval is readable when its case is: ``readable(subject)`` scopes through
``CaseRepository.readable``, so the case's scope rules are applied in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, Select, select, update

from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.approvals.authority import Limits
from drivetrain.cases.models import ApprovalRequest, ApprovalStatus, AuthorityLimit, Case
from drivetrain.cases.repository import CaseRepository
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository


@dataclass(frozen=True)
class ApprovalFilter:
    status: str | None = None
    approver_id: str | None = None
    """Only requests this user holds: a queue."""
    case_id: str | None = None


class ApprovalRepository(Repository[ApprovalRequest]):
    model = ApprovalRequest
    missing = "no such approval request"

    def readable(self, subject: AuthSubject) -> Select[ApprovalRequest]:
        cases = CaseRepository(self.session).readable(subject).with_only_columns(Case.id)
        return select(ApprovalRequest).where(ApprovalRequest.case_id.in_(cases))

    def search(
        self, subject: AuthSubject, filters: ApprovalFilter, *, cursor: str | None, limit: int
    ) -> list[ApprovalRequest]:
        stmt = self.readable(subject)
        if filters.status:
            stmt = stmt.where(ApprovalRequest.status == filters.status)
        if filters.approver_id:
            stmt = stmt.where(ApprovalRequest.approver_id == filters.approver_id)
        if filters.case_id:
            stmt = stmt.where(ApprovalRequest.case_id == filters.case_id)
        return list(self.session.scalars(keyset(stmt, ApprovalRequest.id, cursor=cursor, limit=limit)))

    def queue(self, subject: AuthSubject, *, limit: int) -> list[ApprovalRequest]:
        """Pending requests the subject holds, longest waiting first."""
        stmt = self.readable(subject).where(
            ApprovalRequest.approver_id == subject.user_id, ApprovalRequest.status == ApprovalStatus.PENDING
        )
        return list(self.session.scalars(stmt.order_by(ApprovalRequest.id).limit(limit)))

    def of_case(self, case_id: str) -> list[ApprovalRequest]:
        """A case's requests, oldest first; for a case already read through the subject's scope."""
        stmt = select(ApprovalRequest).where(ApprovalRequest.case_id == case_id)
        return list(self.session.scalars(stmt.order_by(ApprovalRequest.id)))

    def update_pending(self, approval: ApprovalRequest, **values: Any) -> bool:
        """Change a request only while it is pending with the approver it had when read: of two deciders
        at the same moment, one changes it and the other learns it was too late."""
        guarded: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            update(ApprovalRequest)
            .where(
                ApprovalRequest.id == approval.id,
                ApprovalRequest.status == ApprovalStatus.PENDING,
                ApprovalRequest.approver_id == approval.approver_id,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if guarded.rowcount != 1:
            return False
        self.session.refresh(approval)
        return True

    # ------------------------------------------------------------ the authority matrix (OEM-wide data)

    def limits(self, kind: str) -> Limits:
        rows = self.session.execute(
            select(AuthorityLimit.role, AuthorityLimit.max_amount_cents).where(AuthorityLimit.kind == kind)
        )
        return {role: most for role, most in rows}

    def matrix(self) -> list[AuthorityLimit]:
        return list(
            self.session.scalars(select(AuthorityLimit).order_by(AuthorityLimit.kind, AuthorityLimit.role))
        )

    def cell(self, kind: str, role: str) -> AuthorityLimit | None:
        return self.session.get(AuthorityLimit, (kind, role))
