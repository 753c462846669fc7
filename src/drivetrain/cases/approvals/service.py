"""Approvals on a case: requested, routed up the case's ladder by the authority matrix, decided or
forwarded further up. The matrix itself is data HQ may change. No HTTP, no commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.approvals.authority import (
    Limits,
    forward_to,
    may_approve,
    route,
    to_cents,
    to_yuan,
)
from drivetrain.cases.approvals.repository import ApprovalRepository
from drivetrain.cases.approvals.schemas import ApprovalCreate, ApprovalDecision, ApprovalRead, AuthorityUpdate
from drivetrain.cases.ladder import RUNG_NAMES, CasePlace, Step, ladder
from drivetrain.cases.models import (
    ApprovalKind,
    ApprovalRequest,
    ApprovalStatus,
    AuthorityLimit,
    Case,
    CaseHistory,
)
from drivetrain.cases.notices import WECOM_TOPIC, stored_text
from drivetrain.cases.repository import CaseRepository
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from drivetrain.org.repository import StaffRepository

QUEUE_LENGTH = 50


# ---------------------------------------------------------------- shaping


def approval_reads_of(session: Session, approvals: list[ApprovalRequest]) -> list[ApprovalRead]:
    """Requests already read through the subject's scope, with usernames and display names: one query."""
    ids = {i for a in approvals for i in (a.requested_by_id, a.approver_id, a.decided_by_id) if i}
    names, people = StaffRepository(session).names(ids)
    return [
        ApprovalRead(
            id=a.id,
            case_id=a.case_id,
            kind=ApprovalKind(a.kind),
            amount=to_yuan(a.amount_cents),
            reason=a.reason,
            status=ApprovalStatus(a.status),
            requested_by=names.get(a.requested_by_id or ""),
            requested_by_name=people.get(a.requested_by_id or ""),
            approver=names.get(a.approver_id or ""),
            approver_name=people.get(a.approver_id or ""),
            approver_level=a.approver_level,
            decided_by=names.get(a.decided_by_id or ""),
            decided_by_name=people.get(a.decided_by_id or ""),
            decided_at=a.decided_at,
            comment=a.comment,
            created_at=a.created_at,
        )
        for a in approvals
    ]


def approval_read(session: Session, approval: ApprovalRequest) -> ApprovalRead:
    return approval_reads_of(session, [approval])[0]


def approval_reads(session: Session, case_id: str) -> list[ApprovalRead]:
    """A case's requests, oldest first, in two queries; for a case the caller already read in scope."""
    return approval_reads_of(session, ApprovalRepository(session).of_case(case_id))


def pending_for(session: Session, subject: AuthSubject, *, limit: int = QUEUE_LENGTH) -> list[ApprovalRead]:
    """The subject's queue: pending requests they hold, longest waiting first."""
    return approval_reads_of(session, ApprovalRepository(session).queue(subject, limit=limit))


# ---------------------------------------------------------------- history and notices


def _ladder(session: Session, case: Case) -> list[Step]:
    repo = CaseRepository(session)
    region_id = repo.region_of(case.dealer_id)
    place = CasePlace(case.dealer_id, region_id, case.category)
    return ladder(place, repo.ladder_staff(case.dealer_id, region_id))


def _history(
    session: Session, case: Case, approval: ApprovalRequest, kind: str, *, actor: AuthSubject, note: str
) -> None:
    session.add(
        CaseHistory(
            case_id=case.id,
            at=clock.now(),
            kind=kind,
            level=case.escalation_level,
            actor_id=actor.user_id or None,
            note=note,
            detail={"approval_id": approval.id, "kind": approval.kind, "amount_cents": approval.amount_cents},
        )
    )


def _audit(
    session: Session,
    subject: AuthSubject,
    case: Case,
    approval: ApprovalRequest,
    action: str,
    changes: dict[str, Any],
) -> None:
    audit.record(
        session,
        subject,
        action=action,
        entity_type="case_approval",
        entity_id=approval.id,
        dealer_id=case.dealer_id,
        changes=changes,
    )


def _notify(
    session: Session, case: Case, approval: ApprovalRequest, user_id: str | None, event_type: str, text: str
) -> None:
    user = session.get(User, user_id) if user_id else None
    if user is None:
        return
    payload: dict[str, Any] = {
        "approval_id": approval.id,
        "case_id": case.id,
        "title": case.title,
        "kind": approval.kind,
        "amount": str(to_yuan(approval.amount_cents)),
        "status": approval.status,
    }
    events.publish(session, event_type, recipients=[user.id], payload=payload)
    if user.wecom_userid:
        message = {"to": [user.wecom_userid], "text": text, "case_id": case.id, "approval_id": approval.id}
        outbox.enqueue(session, WECOM_TOPIC, message)


def _summary(approval: ApprovalRequest) -> str:
    kind = stored_text(f"approval_kind.{ApprovalKind(approval.kind).value}")
    return stored_text("cases.stored.approval.summary", kind=kind, amount=to_yuan(approval.amount_cents))


# ---------------------------------------------------------------- requesting


def request_approval(
    session: Session, subject: AuthSubject, case: Case, *, data: ApprovalCreate
) -> ApprovalRequest:
    """A request held by the lowest rung of the case's ladder whose limit covers the amount, never the
    requester; 422 at ``amount`` when nobody on the ladder may approve it."""
    amount = to_cents(data.amount)
    limits = ApprovalRepository(session).limits(data.kind.value)
    approver = route(_ladder(session, case), limits, amount, requester_id=subject.user_id or None)
    now = clock.now()
    approval = ApprovalRequest(
        case_id=case.id,
        kind=data.kind.value,
        amount_cents=amount,
        reason=data.reason,
        status=ApprovalStatus.PENDING.value,
        requested_by_id=subject.user_id or None,
        approver_id=approver.member.user_id,
        approver_level=int(approver.level),
        created_at=now,
        updated_at=now,
    )
    session.add(approval)
    session.flush()
    note = f"{data.kind.value} ¥{to_yuan(amount)}: {approver.member.username} ({RUNG_NAMES[approver.level]})"
    _history(session, case, approval, "approval_requested", actor=subject, note=note)
    _audit(
        session,
        subject,
        case,
        approval,
        "approval.request",
        {
            "kind": [None, approval.kind],
            "amount_cents": [None, amount],
            "approver_id": [None, approval.approver_id],
        },
    )
    text = stored_text(
        "cases.stored.approval.requested", summary=_summary(approval), title=case.title, reason=data.reason
    )
    _notify(session, case, approval, approval.approver_id, "approval.requested", text)
    return approval


# ---------------------------------------------------------------- deciding


def _refuse(limits: Limits, role: Role, approval: ApprovalRequest) -> Forbidden:
    if role not in limits:
        return Forbidden(f"your role ({role.value}) may not approve {approval.kind} requests")
    most = limits[role]
    return Forbidden(
        f"your role ({role.value}) may approve {approval.kind} up to ¥{to_yuan(most or 0)}; "
        f"this request is ¥{to_yuan(approval.amount_cents)}"
    )


def decide(
    session: Session, subject: AuthSubject, approval: ApprovalRequest, *, data: ApprovalDecision
) -> ApprovalRequest:
    """Approve or reject a request read through the subject's scope.

    The decider needs authority for the kind covering the amount and must not be the requester. The
    holder whose limit no longer covers the amount (the matrix was lowered) forwards it by approving,
    and may still reject it: a "no" commits no money. Guarded, so of two deciders only one decides.
    """
    approve = data.decision == "approve"
    comment = data.comment or None
    if not approve and comment is None:
        raise InvalidInput("comment", "say why the request is rejected")
    if approval.status != ApprovalStatus.PENDING:
        raise Conflict(f"this request is already {approval.status}")
    if subject.user_id and subject.user_id == approval.requested_by_id:
        raise Forbidden("nobody decides their own request: someone else must approve it")
    repo = ApprovalRepository(session)
    limits = repo.limits(approval.kind)
    case = CaseRepository(session).by_id(approval.case_id)
    if case is None:
        raise NotFound("no such case")
    holds = bool(subject.user_id) and subject.user_id == approval.approver_id
    if not may_approve(limits, subject.role, approval.amount_cents):
        if holds and approve:
            return _forward(session, subject, case, approval, limits)
        if not holds:
            raise _refuse(limits, subject.role, approval)
    status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    now = clock.now()
    decided = repo.update_pending(
        approval,
        status=status.value,
        decided_by_id=subject.user_id or None,
        decided_at=now,
        comment=comment,
        updated_at=now,
    )
    if not decided:
        raise Conflict("this request changed a moment ago (decided or forwarded); look again")
    _history(
        session, case, approval, f"approval_{status.value}", actor=subject, note=comment or _summary(approval)
    )
    _audit(
        session,
        subject,
        case,
        approval,
        f"approval.{'approve' if approve else 'reject'}",
        {"status": [ApprovalStatus.PENDING.value, status.value], "comment": [None, comment]},
    )
    text = stored_text(f"cases.stored.approval.{status.value}", summary=_summary(approval), title=case.title)
    if comment:
        text = stored_text("cases.stored.approval.comment", text=text, comment=comment)
    _notify(session, case, approval, approval.requested_by_id, "approval.decided", text)
    return approval


def _forward(
    session: Session, subject: AuthSubject, case: Case, approval: ApprovalRequest, limits: Limits
) -> ApprovalRequest:
    """Above the holder's limit the request goes up: to the next rung whose limit covers it."""
    level = approval.approver_level if approval.approver_level is not None else -1
    approver = forward_to(
        _ladder(session, case),
        limits,
        approval.amount_cents,
        requester_id=approval.requested_by_id,
        level=level,
        approver_id=approval.approver_id,
    )
    if approver is None:
        raise Conflict(
            f"your limit no longer covers ¥{to_yuan(approval.amount_cents)} and no one above you on this "
            "case's ladder may approve it: reject it, or ask HQ to change the authority matrix"
        )
    previous, previous_level = approval.approver_id, approval.approver_level
    forwarded = ApprovalRepository(session).update_pending(
        approval,
        approver_id=approver.member.user_id,
        approver_level=int(approver.level),
        updated_at=clock.now(),
    )
    if not forwarded:
        raise Conflict("this request changed a moment ago (decided or forwarded); look again")
    rung = RUNG_NAMES[approver.level]
    note = f"{subject.username} → {approver.member.username} ({rung}): above {subject.role.value}'s limit"
    _history(session, case, approval, "approval_forwarded", actor=subject, note=note)
    _audit(
        session,
        subject,
        case,
        approval,
        "approval.forward",
        {
            "approver_id": [previous, approval.approver_id],
            "approver_level": [previous_level, approval.approver_level],
        },
    )
    text = stored_text(
        "cases.stored.approval.forwarded",
        summary=_summary(approval),
        title=case.title,
        reason=approval.reason,
    )
    _notify(session, case, approval, approval.approver_id, "approval.requested", text)
    return approval


# ---------------------------------------------------------------- the authority matrix


def _cell_state(role: Role, cell: AuthorityLimit | None) -> dict[str, Any]:
    """Audited under the kind (an entity id is short), one pair of fields per role."""
    most = cell.max_amount_cents if cell else None
    return {f"{role.value}.allowed": cell is not None, f"{role.value}.max_amount_cents": most}


def set_authority(
    session: Session, subject: AuthSubject, kind: ApprovalKind, role: Role, *, data: AuthorityUpdate
) -> AuthorityLimit:
    """Give a role authority for a kind up to an amount (null: no limit). Pending requests keep their
    approver; one whose limit no longer covers a request forwards it by approving."""
    cell = ApprovalRepository(session).cell(kind.value, role.value)
    before = _cell_state(role, cell)
    most = to_cents(data.max_amount) if data.max_amount is not None else None
    if cell is None:
        cell = AuthorityLimit(kind=kind.value, role=role.value)
        session.add(cell)
    cell.max_amount_cents = most
    cell.updated_at = clock.now()
    changes = audit.diff(before, _cell_state(role, cell))
    if changes:
        audit.record(
            session,
            subject,
            action="approval_authority.update",
            entity_type="approval_authority",
            entity_id=kind.value,
            changes=changes,
        )
    session.flush()
    return cell


def remove_authority(session: Session, subject: AuthSubject, kind: ApprovalKind, role: Role) -> None:
    """The role may no longer approve this kind at all; removing a cell that is not there changes nothing."""
    cell = ApprovalRepository(session).cell(kind.value, role.value)
    if cell is None:
        return
    changes = audit.diff(_cell_state(role, cell), _cell_state(role, None))
    session.delete(cell)
    audit.record(
        session,
        subject,
        action="approval_authority.remove",
        entity_type="approval_authority",
        entity_id=kind.value,
        changes=changes,
    )
    session.flush()
