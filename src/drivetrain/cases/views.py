"""Console pages for cases: the live case list, the hotline intake form, a case's page and its actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases import service
from drivetrain.cases.approvals import service as approvals
from drivetrain.cases.approvals.repository import ApprovalRepository
from drivetrain.cases.approvals.schemas import ApprovalCreate, ApprovalDecision
from drivetrain.cases.auth import ConsoleCaseReader, ConsoleCaseWorker
from drivetrain.cases.classify import Category
from drivetrain.cases.classify.api import ClassificationCorrect
from drivetrain.cases.classify.corrections import correct
from drivetrain.cases.models import ApprovalKind, Case, CaseStatus, CaseType, Channel
from drivetrain.cases.presenters import case_detail, case_reads
from drivetrain.cases.repository import CaseFilter, CaseRepository
from drivetrain.cases.schemas import CaseCreate, CaseNote, CaseStatusChange
from drivetrain.jobs import events
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.pagination import page_of
from drivetrain.kit.validators import Text
from drivetrain.web.forms import is_htmx, validated
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CsrfField = Annotated[str, Form(max_length=100)]
NoteField = Annotated[str, Form(max_length=500)]
VIEWS = ("mine", "active", "escalated", "resolved")
LIVE_EVENTS = "case.assigned case.escalated approval.requested approval.decided"
INTAKE_FIELDS = ("channel", "type", "phone", "vin", "plate", "dealer_code", "title", "description")


def _filter_for(view: str, subject: AuthSubject) -> CaseFilter:
    if view == "mine":
        return CaseFilter(active_only=True, owner_id=subject.user_id)
    if view == "escalated":
        return CaseFilter(active_only=True, min_level=1)
    if view == "resolved":
        return CaseFilter(status=CaseStatus.RESOLVED.value)
    return CaseFilter(active_only=True)


def _live_page(
    request: Request, session: Session, subject: AuthSubject, name: str, context: dict[str, Any]
) -> HTMLResponse:
    """HTMX gets the fragment ``cases/_<name>.html``; a visit gets the page, which follows the event
    stream from just after what it shows, so nothing falls between rendering and connecting."""
    if is_htmx(request):
        return render(request, f"cases/_{name}.html", context, subject=subject)
    after = events.latest_event_id(session, subject.user_id)
    context = context | {"events_url": f"/api/v1/events?after={after}", "listen": LIVE_EVENTS}
    return render(request, f"cases/{name}.html", context, subject=subject)


# ---------------------------------------------------------------- the list


@router.get("/cases")
def case_list(
    request: Request,
    subject: ConsoleCaseReader,
    session: SessionDep,
    view: Annotated[str, Query(max_length=12)] = "mine",
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
) -> HTMLResponse:
    """Cases I hold, all active ones in my scope, the escalated ones, the resolved ones."""
    view = view if view in VIEWS else "mine"
    rows = CaseRepository(session).search(subject, _filter_for(view, subject), cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = page_of(rows, limit=PAGE_SIZE, id_of=lambda case: case.id)
    context = {
        "cases": case_reads(session, subject, items),
        "view": view,
        "views": VIEWS,
        "next_cursor": next_cursor,
        "now": clock.now(),
        "can_work": subject.can(Permission.CASES_WORK),
    }
    return _live_page(request, session, subject, "list", context)


# ---------------------------------------------------------------- intake


def _intake_page(
    request: Request,
    subject: AuthSubject,
    values: dict[str, str],
    *,
    error: tuple[str, str] | None = None,
) -> HTMLResponse:
    context = {
        "values": values,
        "error": error,
        "channels": [c.value for c in Channel],
        "types": [t.value for t in CaseType],
    }
    return render(request, "cases/new.html", context, subject=subject, status=422 if error else 200)


@router.get("/cases/new")
def intake_form(request: Request, subject: ConsoleCaseWorker) -> HTMLResponse:
    """The hotline agent's form; dealers and suppliers file theirs here too (channel and type say so)."""
    return _intake_page(request, subject, {"channel": Channel.HOTLINE.value})


@router.post("/cases/new")
def open_from_console(
    request: Request,
    subject: ConsoleCaseWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    channel: Annotated[str, Form(max_length=20)] = "",
    type: Annotated[str, Form(max_length=12)] = "",
    phone: Annotated[str, Form(max_length=30)] = "",
    vin: Annotated[str, Form(max_length=30)] = "",
    plate: Annotated[str, Form(max_length=20)] = "",
    dealer_code: Annotated[str, Form(max_length=20)] = "",
    title: Annotated[str, Form(max_length=120)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    typed = {
        "channel": channel,
        "type": type,
        "phone": phone,
        "vin": vin,
        "plate": plate,
        "dealer_code": dealer_code,
        "title": title,
        "description": description,
    }
    given = {name: value.strip() for name, value in typed.items() if value.strip()}
    try:
        case = service.open_case(session, subject, data=validated(CaseCreate, given))
    except InvalidInput as error:
        return _intake_page(request, subject, typed, error=(error.field, error.reason))
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


# ---------------------------------------------------------------- one case


def _case_context(session: Session, subject: AuthSubject, case: Case) -> dict[str, Any]:
    return {
        "case": case_detail(session, subject, case),
        "approvals": approvals.approval_reads(session, case.id),
        "approval_kinds": [k.value for k in ApprovalKind],
        "categories": [c.value for c in Category],
        "now": clock.now(),
        "can_work": subject.can(Permission.CASES_WORK),
    }


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: str, subject: ConsoleCaseReader, session: SessionDep
) -> HTMLResponse:
    """What the owner said, how it was read, who holds it on which rung until when, and everything since."""
    case = CaseRepository(session).get_readable(subject, case_id)
    context = _case_context(session, subject, case) | {"error": None}
    return _live_page(request, session, subject, "detail", context)


def _case_error(
    request: Request, session: Session, subject: AuthSubject, case: Case, error: InvalidInput, form: str
) -> HTMLResponse:
    """The page again with the form's problem beside it; nothing was written."""
    after = events.latest_event_id(session, subject.user_id)
    context = _case_context(session, subject, case) | {
        "error": {"form": form, "field": error.field, "reason": error.reason},
        "events_url": f"/api/v1/events?after={after}",
        "listen": LIVE_EVENTS,
    }
    return render(request, "cases/detail.html", context, subject=subject, status=422)


@router.post("/cases/{case_id}/status")
def change_status(
    request: Request,
    case_id: str,
    subject: ConsoleCaseWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    status: Annotated[str, Form(max_length=20)] = "",
    note: NoteField = "",
) -> Response:
    """Wait for the customer (the clock pauses), reopen, or resolve with how it was solved."""
    case = CaseRepository(session).get_readable(subject, case_id)
    check_csrf(request, csrf_token)
    try:
        change = validated(CaseStatusChange, {"status": status, "note": note.strip() or None})
        service.change_status(session, subject, case, data=change)
    except InvalidInput as error:
        return _case_error(request, session, subject, case, error, "status")
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.post("/cases/{case_id}/notes")
def add_note(
    request: Request,
    case_id: str,
    subject: ConsoleCaseWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    note: NoteField = "",
    contacted_customer: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    case = CaseRepository(session).get_readable(subject, case_id)
    check_csrf(request, csrf_token)
    try:
        data = validated(CaseNote, {"note": note, "contacted_customer": bool(contacted_customer)})
        service.add_note(session, subject, case, data=data)
    except InvalidInput as error:
        return _case_error(request, session, subject, case, error, "note")
    return RedirectResponse(f"/cases/{case.id}#history", status_code=303)


# ---------------------------------------------------------------- approvals on the case


@router.post("/cases/{case_id}/approvals")
def request_approval(
    request: Request,
    case_id: str,
    subject: ConsoleCaseWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    amount: Annotated[str, Form(max_length=20)] = "",
    reason: NoteField = "",
) -> Response:
    """Ask for a return, refund, goodwill, extended warranty or discount; it goes to whoever may grant it."""
    case = CaseRepository(session).get_readable(subject, case_id)
    check_csrf(request, csrf_token)
    try:
        data = validated(ApprovalCreate, {"kind": kind, "amount": amount.strip(), "reason": reason})
        approvals.request_approval(session, subject, case, data=data)
    except InvalidInput as error:
        return _case_error(request, session, subject, case, error, "approval")
    return RedirectResponse(f"/cases/{case.id}#approvals", status_code=303)


@router.post("/cases/{case_id}/approvals/{approval_id}/decision")
def decide_approval(
    request: Request,
    case_id: str,
    approval_id: str,
    subject: ConsoleCaseWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    decision: Annotated[str, Form(max_length=10)] = "",
    comment: NoteField = "",
) -> Response:
    """Approve or reject with a comment; a holder whose limit no longer covers it passes it up instead."""
    case = CaseRepository(session).get_readable(subject, case_id)
    approval = ApprovalRepository(session).get_readable(subject, approval_id)
    check_csrf(request, csrf_token)
    try:
        data = validated(ApprovalDecision, {"decision": decision, "comment": comment.strip() or None})
        approvals.decide(session, subject, approval, data=data)
    except InvalidInput as error:
        return _case_error(request, session, subject, case, error, f"decision-{approval.id}")
    return RedirectResponse(f"/cases/{case.id}#approvals", status_code=303)


@router.post("/cases/{case_id}/classification")
def correct_classification(
    request: Request,
    case_id: str,
    subject: ConsoleCaseWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    category: Annotated[str, Form(max_length=30)] = "",
    sentiment: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Fix how the case was read; `drivetrain classify retrain` learns from the fix."""
    case = CaseRepository(session).get_readable(subject, case_id)
    check_csrf(request, csrf_token)
    try:
        typed = {
            "category": category,
            "sentiment": int(sentiment) if sentiment.lstrip("-").isdigit() else sentiment,
        }
        data = validated(ClassificationCorrect, typed)
        correct(session, subject, case, category=data.category, sentiment=data.sentiment)
    except InvalidInput as error:
        return _case_error(request, session, subject, case, error, "classification")
    return RedirectResponse(f"/cases/{case.id}", status_code=303)
