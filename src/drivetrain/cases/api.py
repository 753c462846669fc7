"""/api/v1/cases, /api/v1/sla-policies and /api/v1/classify (the classifier on its own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.gates import SignedIn
from drivetrain.cases import service
from drivetrain.cases.auth import CaseConfigurer, CaseReader, CaseWorker
from drivetrain.cases.classify import classify
from drivetrain.cases.models import CaseStatus, Priority, SlaPolicy
from drivetrain.cases.presenters import case_detail, case_reads
from drivetrain.cases.repository import CaseFilter, CaseRepository
from drivetrain.cases.schemas import (
    CaseCreate,
    CaseDetail,
    CaseNote,
    CaseRead,
    CaseStatusChange,
    ClassificationRead,
    ClassifyRequest,
    SlaPolicyRead,
    SlaPolicyUpdate,
)
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text
from drivetrain.org.repository import DealerRepository, StaffRepository

router = APIRouter(tags=["cases"])


@router.post("/classify", summary="Category, severity, sentiment and product aspects of a message")
def classify_text(body: ClassifyRequest, subject: SignedIn) -> ClassificationRead:
    """Any signed-in caller may classify: it reads no stored data and stores nothing."""
    found = classify(body.text)
    return ClassificationRead(
        text=found.text,
        category=found.category,
        severity=found.severity,
        sentiment=found.sentiment,
        aspects=list(found.aspects),
    )


@router.post("/cases", status_code=201, summary="Open a case (complaint, feedback, inquiry) from any channel")
def create_case(body: CaseCreate, subject: CaseWorker, session: SessionDep) -> CaseDetail:
    return case_detail(session, subject, service.open_case(session, subject, data=body))


@router.get("/cases", summary="Cases you may see, newest first")
def list_cases(
    subject: CaseReader,
    session: SessionDep,
    status: CaseStatus | None = None,
    active: Annotated[bool, Query(description="Only cases not yet resolved")] = False,
    owner: Annotated[Text | None, Query(max_length=60, description="Username, or 'me'")] = None,
    priority: Priority | None = None,
    dealer_code: Annotated[Text | None, Query(max_length=20)] = None,
    min_level: Annotated[int | None, Query(ge=0, le=4, description="Escalated at least this far")] = None,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[CaseRead]:
    owner_id = None
    if owner == "me":
        owner_id = subject.user_id
    elif owner:
        owner_id = StaffRepository(session).by_username(subject, owner).id
    filters = CaseFilter(
        status=status.value if status else None,
        active_only=active,
        owner_id=owner_id,
        priority=priority.value if priority else None,
        dealer_id=DealerRepository(session).by_code(subject, dealer_code).id if dealer_code else None,
        min_level=min_level,
    )
    rows = CaseRepository(session).search(subject, filters, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda case: case.id)
    return Page(items=case_reads(session, subject, items), next_cursor=next_cursor)


@router.get("/cases/{case_id}", summary="A case with its classification, rung, owner and history")
def get_case(case_id: str, subject: CaseReader, session: SessionDep) -> CaseDetail:
    return case_detail(session, subject, CaseRepository(session).get_readable(subject, case_id))


@router.post(
    "/cases/{case_id}/status", summary="Wait for the customer (pauses the clock), reopen, or resolve"
)
def change_status(
    case_id: str, body: CaseStatusChange, subject: CaseWorker, session: SessionDep
) -> CaseDetail:
    case = service.change_status(
        session, subject, CaseRepository(session).get_readable(subject, case_id), data=body
    )
    return case_detail(session, subject, case)


@router.post(
    "/cases/{case_id}/notes",
    status_code=201,
    summary="Note what was done; say so when it answered the customer",
)
def add_note(case_id: str, body: CaseNote, subject: CaseWorker, session: SessionDep) -> CaseDetail:
    case = service.add_note(
        session, subject, CaseRepository(session).get_readable(subject, case_id), data=body
    )
    return case_detail(session, subject, case)


def _policy_read(policy: SlaPolicy) -> SlaPolicyRead:
    return SlaPolicyRead.model_validate(policy, from_attributes=True)


@router.get("/sla-policies", summary="The SLA policy of each priority")
def list_policies(subject: CaseReader, session: SessionDep) -> list[SlaPolicyRead]:
    return [_policy_read(p) for p in CaseRepository(session).policies()]


@router.put("/sla-policies/{priority}", summary="Change a priority's budgets, down to seconds (HQ)")
def put_policy(
    priority: Priority, body: SlaPolicyUpdate, subject: CaseConfigurer, session: SessionDep
) -> SlaPolicyRead:
    return _policy_read(service.update_policy(session, subject, priority, data=body))
