"""Console pages for the case desk's configuration (SLA policies, the authority matrix) and its SLA report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases import reports, service
from drivetrain.cases.approvals.authority import to_yuan
from drivetrain.cases.approvals.repository import ApprovalRepository
from drivetrain.cases.models import ApprovalKind, Priority
from drivetrain.cases.reports import GroupBy
from drivetrain.cases.reports_api import period
from drivetrain.cases.repository import CaseRepository
from drivetrain.cases.schemas import SlaPolicyRead, SlaPolicyUpdate
from drivetrain.kit.errors import InvalidInput
from drivetrain.web.forms import field_errors
from drivetrain.web.templating import ConsoleSubject, render

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=100)]

POLICY_FIELDS = ("first_response_seconds", "resolution_seconds", "escalation_seconds")


def _authority_matrix(session: Session) -> dict[str, dict[str, str]]:
    """kind -> role -> the most it may approve, as shown: ¥ amount, or "∞" (an absent role may not)."""
    matrix: dict[str, dict[str, str]] = {kind.value: {} for kind in ApprovalKind}
    for cell in ApprovalRepository(session).matrix():
        most = cell.max_amount_cents
        matrix.setdefault(cell.kind, {})[cell.role] = "∞" if most is None else f"¥{to_yuan(most):,.0f}"
    return matrix


def _settings_page(
    request: Request,
    session: Session,
    subject: AuthSubject,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, dict[str, Any]] | None = None,
    saved: str | None = None,
) -> HTMLResponse:
    policies = {
        p.priority: SlaPolicyRead.model_validate(p, from_attributes=True).model_dump()
        for p in CaseRepository(session).policies()
    }
    context = {
        "policies": policies | (typed or {}),
        "fields": POLICY_FIELDS,
        "errors": errors or {},
        "saved": saved,
        "editable": subject.can(Permission.CASES_CONFIGURE),
        "matrix": _authority_matrix(session),
        "matrix_roles": (
            "service_advisor",
            "sales_consultant",
            "store_manager",
            "regional_manager",
            "hq_ops",
            "executive",
        ),
    }
    status = 422 if errors else 200
    return render(request, "cases/settings.html", context, subject=subject, status=status)


@router.get("/cases/settings")
def settings_page(
    request: Request,
    subject: ConsoleSubject,
    session: SessionDep,
    saved: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """The SLA policy of each priority (editable with cases:configure) and the approval authority matrix."""
    subject.require(Permission.CASES_READ)
    return _settings_page(
        request, session, subject, saved=saved if saved in {p.value for p in Priority} else None
    )


@router.post("/cases/settings/{priority}")
def save_policy(
    request: Request,
    priority: Priority,
    subject: ConsoleSubject,
    session: SessionDep,
    csrf_token: CsrfField = "",
    first_response_seconds: Annotated[str, Form(max_length=20)] = "",
    resolution_seconds: Annotated[str, Form(max_length=20)] = "",
    escalation_seconds: Annotated[str, Form(max_length=20)] = "",
    business_hours: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """One priority's budgets, in seconds; a bad field saves nothing and is shown beside its input."""
    check_csrf(request, csrf_token)
    subject.require(Permission.CASES_CONFIGURE)
    typed: dict[str, Any] = {
        "first_response_seconds": first_response_seconds.strip(),
        "resolution_seconds": resolution_seconds.strip(),
        "escalation_seconds": escalation_seconds.strip(),
        "business_hours": bool(business_hours),
    }
    try:
        data = SlaPolicyUpdate.model_validate(typed)
    except ValidationError as error:
        field, reason = next(iter(field_errors(error).items()))
        errors = {priority.value: {field: reason}}
        return _settings_page(
            request,
            session,
            subject,
            errors=errors,
            typed={priority.value: typed | {"priority": priority.value}},
        )
    service.update_policy(session, subject, priority, data=data)
    return RedirectResponse(
        f"/cases/settings?saved={priority.value}#policy-{priority.value}", status_code=303
    )


@router.get("/cases/report")
def report_page(
    request: Request,
    subject: ConsoleSubject,
    session: SessionDep,
    group_by: GroupBy = GroupBy.DEALER,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """First response and resolution against the SLA, and CSAT, per dealer or per holder."""
    subject.require(Permission.REPORTS_READ)
    subject.require(Permission.CASES_READ)
    try:
        first, last = period(_day(since, "since"), _day(until, "until"))
        error = None
    except InvalidInput as problem:
        first, last = period(None, None)
        error = f"{problem.field}: {problem.reason}"
    rows = reports.case_sla(session, subject, start=first, end=last, group_by=group_by)
    context = {"rows": rows, "group_by": group_by.value, "since": first, "until": last, "error": error}
    return render(request, "cases/report.html", context, subject=subject, status=422 if error else 200)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, "a day as YYYY-MM-DD") from None
