"""Console pages for leads: the live inbox, the pipeline board, a lead's page, the routing settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission, Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.jobs import events
from drivetrain.kit import clock
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.i18n import locale_of
from drivetrain.kit.pagination import MAX_LIMIT, page_of
from drivetrain.kit.validators import Text
from drivetrain.leads import service
from drivetrain.leads.auth import (
    ConsoleLeadAssigner,
    ConsoleLeadConfigurer,
    ConsoleLeadReader,
    ConsoleLeadWorker,
)
from drivetrain.leads.models import OPEN_STAGES, Lead, Stage
from drivetrain.leads.pipeline import NEXT_STAGES
from drivetrain.leads.presenters import lead_detail, lead_reads
from drivetrain.leads.repository import LeadFilter, LeadRepository
from drivetrain.leads.schemas import (
    LeadSettingsRead,
    LeadSettingsUpdate,
    Reassignment,
    StageChange,
    TaskCreate,
)
from drivetrain.org.repository import StaffRepository
from drivetrain.web.forms import field_errors, is_htmx, validated
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
NoteField = Annotated[str, Form(max_length=300)]
CsrfField = Annotated[str, Form(max_length=100)]
# Which moves a card offers, in pipeline order; "lost" has its own form because it needs a reason.
MOVES = {
    stage.value: [s.value for s in Stage if s in NEXT_STAGES[stage] and s is not Stage.LOST]
    for stage in Stage
}


def _live(
    request: Request,
    session: Session,
    subject: AuthSubject,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    """HTMX gets the fragment ``leads/_<name>.html``; a visit gets the page, which follows the event
    stream from just after what it shows, so nothing falls between rendering and connecting."""
    if is_htmx(request):
        return render(request, f"leads/_{name}.html", context, subject=subject, status=status)
    after = events.latest_event_id(session, subject.user_id)
    context = context | {"events_url": f"/api/v1/events?after={after}"}
    return render(request, f"leads/{name}.html", context, subject=subject, status=status)


# ---------------------------------------------------------------- inbox


@router.get("/leads")
def inbox(
    request: Request,
    subject: ConsoleLeadReader,
    session: SessionDep,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
) -> HTMLResponse:
    """Open leads in the subject's scope; HQ also sees the pool of leads no dealer took."""
    repo = LeadRepository(session)
    rows = repo.search(subject, LeadFilter(open_only=True), cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = page_of(rows, limit=PAGE_SIZE, id_of=lambda lead: lead.id)
    pool: list[Lead] = []
    if subject.is_hq and cursor is None:
        pool = repo.search(subject, LeadFilter(open_only=True, unassigned=True), cursor=None, limit=MAX_LIMIT)
    locale = locale_of(request)
    context = {
        "leads": lead_reads(session, subject, [x for x in items if x.dealer_id], locale=locale),
        "pool": lead_reads(session, subject, pool, locale=locale),
        "show_pool": subject.is_hq,
        "next_cursor": next_cursor,
        "now": clock.now(),
    }
    return _live(request, session, subject, "inbox", context)


# ---------------------------------------------------------------- board


def _render_board(
    request: Request, session: Session, subject: AuthSubject, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    rows = LeadRepository(session).search(subject, LeadFilter(open_only=True), cursor=None, limit=MAX_LIMIT)
    items, more = page_of(rows, limit=MAX_LIMIT, id_of=lambda lead: lead.id)
    reads = lead_reads(session, subject, items, locale=locale_of(request))
    columns = {stage: [x for x in reads if x.status.value == stage] for stage in OPEN_STAGES}
    context = {
        "columns": columns,
        "moves": MOVES,
        "more": more is not None,
        "error": error,
        "now": clock.now(),
        "can_work": subject.can(Permission.LEADS_WORK),
    }
    return _live(request, session, subject, "board", context, status=status)


@router.get("/leads/board")
def board(request: Request, subject: ConsoleLeadReader, session: SessionDep) -> HTMLResponse:
    """One column per open stage; each card moves on to the stages the pipeline allows."""
    return _render_board(request, session, subject)


@router.post("/leads/{lead_id}/stage")
def move(
    request: Request,
    lead_id: str,
    subject: ConsoleLeadWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    stage: Annotated[str, Form(max_length=30)] = "",
    lost_reason: Annotated[str, Form(max_length=200)] = "",
    back: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """From the board (HTMX: the board comes back) or from the lead page (redirect back to it)."""
    lead = LeadRepository(session).get_readable(subject, lead_id)
    check_csrf(request, csrf_token)
    try:
        change = validated(StageChange, {"stage": stage, "lost_reason": lost_reason.strip() or None})
        service.change_stage(session, subject, lead, data=change)
    except InvalidInput as error:
        if not is_htmx(request):
            raise
        message = f"leads.error.{error.field}"
        return _render_board(request, session, subject, error=message, status=422)
    if is_htmx(request):
        return _render_board(request, session, subject)
    return RedirectResponse("/leads/board" if back == "board" else f"/leads/{lead.id}", status_code=303)


# ---------------------------------------------------------------- settings


def _render_settings(
    request: Request,
    subject: AuthSubject,
    values: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    context = {
        "values": values,
        "errors": errors or {},
        "saved": saved,
        "editable": subject.can(Permission.LEADS_CONFIGURE),
    }
    return render(request, "leads/settings.html", context, subject=subject, status=422 if errors else 200)


def _minutes_as_seconds(minutes: str) -> int | str:
    """The form asks for minutes; what does not parse goes on as typed, so the schema reports it."""
    try:
        return round(float(minutes) * 60)
    except (ValueError, OverflowError):
        return minutes


@router.get("/leads/settings")
def settings_page(
    request: Request, subject: ConsoleLeadReader, session: SessionDep, saved: bool = False
) -> HTMLResponse:
    """Routing and first-contact SLA settings; editable with leads:configure, readable with leads:read."""
    current = LeadSettingsRead.model_validate(LeadRepository(session).settings(), from_attributes=True)
    values = {name: f"{value:g}" if isinstance(value, float) else value for name, value in current}
    values["first_contact_minutes"] = f"{current.first_contact_seconds / 60:g}"
    return _render_settings(request, subject, values, saved=saved)


@router.post("/leads/settings")
def save_settings(
    request: Request,
    subject: ConsoleLeadConfigurer,
    session: SessionDep,
    csrf_token: CsrfField = "",
    first_contact_minutes: Annotated[str, Form(max_length=20)] = "",
    business_hours: Annotated[str, Form(max_length=5)] = "",
    dedupe_window_days: Annotated[str, Form(max_length=20)] = "",
    radius_km: Annotated[str, Form(max_length=20)] = "",
    max_candidates: Annotated[str, Form(max_length=20)] = "",
    load_weight_km: Annotated[str, Form(max_length=20)] = "",
    default_capacity: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Every field is saved at once; a bad one saves nothing and is shown next to its input."""
    check_csrf(request, csrf_token)
    typed = {
        "dedupe_window_days": dedupe_window_days.strip(),
        "radius_km": radius_km.strip(),
        "max_candidates": max_candidates.strip(),
        "load_weight_km": load_weight_km.strip(),
        "default_capacity": default_capacity.strip(),
        "business_hours": bool(business_hours),
    }
    seconds = _minutes_as_seconds(first_contact_minutes.strip())
    try:
        data = LeadSettingsUpdate.model_validate(typed | {"first_contact_seconds": seconds})
    except ValidationError as error:
        errors = field_errors(error)
        if "first_contact_seconds" in errors:
            errors["first_contact_minutes"] = errors.pop("first_contact_seconds")
        shown = typed | {"first_contact_minutes": first_contact_minutes}
        return _render_settings(request, subject, shown, errors=errors)
    service.update_settings(session, subject, data=data)
    return RedirectResponse("/leads/settings?saved=true", status_code=303)


# ---------------------------------------------------------------- one lead


def _render_lead(
    request: Request,
    session: Session,
    subject: AuthSubject,
    lead: Lead,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    detail = lead_detail(session, subject, lead, locale=locale_of(request))
    assignable = []
    if subject.can(Permission.LEADS_ASSIGN) and lead.dealer_id:
        staff = StaffRepository(session).of_dealer(subject, lead.dealer_id)
        assignable = [u for u in staff if u.role in (Role.SALES_CONSULTANT, Role.STORE_MANAGER)]
    context = {
        "lead": detail,
        "moves": MOVES[detail.status.value],
        "can_lose": Stage.LOST in NEXT_STAGES[detail.status],
        "assignable": assignable,
        "can_work": subject.can(Permission.LEADS_WORK),
        "can_assign": subject.can(Permission.LEADS_ASSIGN),
        "errors": errors or {},
        "form": form or {},
        "now": clock.now(),
    }
    return render(request, "leads/detail.html", context, subject=subject, status=422 if errors else 200)


@router.get("/leads/{lead_id}")
def lead_page(
    request: Request, lead_id: str, subject: ConsoleLeadReader, session: SessionDep
) -> HTMLResponse:
    """Who, what, where it came from, why it went where it went, and what happened since."""
    return _render_lead(request, session, subject, LeadRepository(session).get_readable(subject, lead_id))


def _console_time(value: str) -> datetime | str:
    """A ``datetime-local`` value is China time; what does not parse goes on as typed."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


@router.post("/leads/{lead_id}/tasks")
def add_task(
    request: Request,
    lead_id: str,
    subject: ConsoleLeadWorker,
    session: SessionDep,
    csrf_token: CsrfField = "",
    due_at: Annotated[str, Form(max_length=40)] = "",
    note: NoteField = "",
) -> Response:
    """Schedule a follow-up; it lands in the lead's history."""
    lead = LeadRepository(session).get_readable(subject, lead_id)
    check_csrf(request, csrf_token)
    try:
        task = validated(TaskCreate, {"due_at": _console_time(due_at.strip()), "note": note.strip()})
        service.add_task(session, subject, lead, due_at=task.due_at, note=task.note)
    except InvalidInput as error:
        form = {"due_at": due_at, "note": note}
        return _render_lead(
            request, session, subject, lead, errors={f"task.{error.field}": error.reason}, form=form
        )
    return RedirectResponse(f"/leads/{lead.id}#tasks", status_code=303)


@router.post("/leads/{lead_id}/reassign")
def reassign(
    request: Request,
    lead_id: str,
    subject: ConsoleLeadAssigner,
    session: SessionDep,
    csrf_token: CsrfField = "",
    consultant: Annotated[str, Form(max_length=60)] = "",
    dealer_code: Annotated[str, Form(max_length=20)] = "",
    reason: NoteField = "",
) -> Response:
    """Hand the lead to a named colleague, or to whoever is next on duty at a dealer."""
    lead = LeadRepository(session).get_readable(subject, lead_id)
    check_csrf(request, csrf_token)
    values = {
        "consultant": consultant.strip() or None,
        "dealer_code": dealer_code.strip() or None,
        "reason": reason.strip(),
    }
    try:
        service.reassign(session, subject, lead, data=validated(Reassignment, values))
    except InvalidInput as error:
        form = {"consultant": consultant, "dealer_code": dealer_code, "reason": reason}
        return _render_lead(
            request, session, subject, lead, errors={f"reassign.{error.field}": error.reason}, form=form
        )
    return RedirectResponse(f"/leads/{lead.id}", status_code=303)
