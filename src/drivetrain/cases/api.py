"""/api/v1/cases, /api/v1/sla-policies and /api/v1/classify (the classifier on its own)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, SubjectDep
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases import service
from drivetrain.cases.classify import Category, Severity, classify
from drivetrain.cases.ladder import RUNG_NAMES
from drivetrain.cases.models import Case, CaseStatus, CaseType, Channel, Priority, Rung, SlaPolicy
from drivetrain.cases.repository import CaseRepository
from drivetrain.cases.schemas import (
    CaseCreate,
    CaseDetail,
    CaseHistoryRead,
    CaseStatusChange,
    ClassificationRead,
    ClassifyRequest,
    SlaPolicyRead,
    SlaPolicyUpdate,
)
from drivetrain.kit.masking import mask_tail
from drivetrain.org.models import Dealer
from drivetrain.org.repository import StaffRepository

router = APIRouter(tags=["cases"])


@router.post("/classify", summary="Category, severity, sentiment and product aspects of a message")
def classify_text(body: ClassifyRequest, subject: SubjectDep) -> ClassificationRead:
    """Any signed-in caller may classify: it reads no stored data and stores nothing."""
    found = classify(body.text)
    return ClassificationRead(
        text=found.text,
        category=found.category,
        severity=found.severity,
        sentiment=found.sentiment,
        aspects=list(found.aspects),
    )


def case_detail(session: Session, subject: AuthSubject, case: Case) -> CaseDetail:
    history = CaseRepository(session).history(case.id)
    ids = {case.owner_id} | {i for h in history for i in (h.from_owner_id, h.to_owner_id, h.actor_id)}
    names = StaffRepository(session).usernames({i for i in ids if i})
    dealer_code = (
        session.scalar(select(Dealer.code).where(Dealer.id == case.dealer_id)) if case.dealer_id else None
    )
    phone = case.phone if case.phone is None or subject.can(Permission.PII_READ) else mask_tail(case.phone)
    return CaseDetail(
        id=case.id,
        type=CaseType(case.type),
        channel=Channel(case.channel),
        status=CaseStatus(case.status),
        title=case.title,
        description=case.description,
        category=Category(case.category),
        severity=Severity(case.severity),
        sentiment=case.sentiment,
        aspects=list(case.aspects),
        priority=Priority(case.priority),
        escalation_level=case.escalation_level,
        rung=RUNG_NAMES[Rung(case.escalation_level)],
        owner=names.get(case.owner_id or ""),
        dealer_code=dealer_code,
        customer_id=case.customer_id,
        vehicle_id=case.vehicle_id,
        phone=phone,
        vin=case.vin,
        plate=case.plate,
        escalation_due_at=case.escalation_due_at,
        first_response_due_at=case.first_response_due_at,
        resolution_due_at=case.resolution_due_at,
        resolved_at=case.resolved_at,
        resolution=case.resolution,
        created_at=case.created_at,
        updated_at=case.updated_at,
        history=[
            CaseHistoryRead(
                at=h.at,
                kind=h.kind,
                from_owner=names.get(h.from_owner_id or ""),
                to_owner=names.get(h.to_owner_id or ""),
                level=h.level,
                actor=names.get(h.actor_id or ""),
                note=h.note,
                held_seconds=h.held_seconds,
            )
            for h in history
        ],
    )


@router.post("/cases", status_code=201, summary="Open a case (complaint, feedback, inquiry) from any channel")
def create_case(body: CaseCreate, subject: SubjectDep, session: SessionDep) -> CaseDetail:
    return case_detail(session, subject, service.open_case(session, subject, data=body))


@router.get("/cases/{case_id}", summary="A case with its classification, rung, owner and history")
def get_case(case_id: str, subject: SubjectDep, session: SessionDep) -> CaseDetail:
    subject.require(Permission.CASES_READ)
    return case_detail(session, subject, CaseRepository(session).get(subject, case_id))


@router.post(
    "/cases/{case_id}/status", summary="Wait for the customer (pauses the clock), reopen, or resolve"
)
def change_status(
    case_id: str, body: CaseStatusChange, subject: SubjectDep, session: SessionDep
) -> CaseDetail:
    case = service.change_status(session, subject, CaseRepository(session).get(subject, case_id), data=body)
    return case_detail(session, subject, case)


def _policy_read(policy: SlaPolicy) -> SlaPolicyRead:
    return SlaPolicyRead.model_validate(policy, from_attributes=True)


@router.get("/sla-policies", summary="The SLA policy of each priority")
def list_policies(subject: SubjectDep, session: SessionDep) -> list[SlaPolicyRead]:
    subject.require(Permission.CASES_READ)
    return [_policy_read(p) for p in CaseRepository(session).policies()]


@router.put("/sla-policies/{priority}", summary="Change a priority's budgets, down to seconds (HQ)")
def put_policy(
    priority: Priority, body: SlaPolicyUpdate, subject: SubjectDep, session: SessionDep
) -> SlaPolicyRead:
    return _policy_read(service.update_policy(session, subject, priority, data=body))
