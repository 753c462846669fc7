"""Console pages for the case desk's configuration (SLA policies, the authority matrix) and its SLA report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission, Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases import service
from drivetrain.cases.approvals import service as approvals
from drivetrain.cases.approvals.authority import to_cents, to_yuan
from drivetrain.cases.approvals.repository import ApprovalRepository
from drivetrain.cases.approvals.schemas import AuthorityUpdate
from drivetrain.cases.auth import ConsoleCaseConfigurer, ConsoleCaseReader, ConsoleCaseReportReader
from drivetrain.cases.models import ApprovalKind, Priority
from drivetrain.cases.reports import service as reports
from drivetrain.cases.reports.api import period
from drivetrain.cases.reports.service import GroupBy
from drivetrain.cases.repository import CaseRepository
from drivetrain.cases.schemas import SlaPolicyRead, SlaPolicyUpdate
from drivetrain.kit.errors import InvalidInput
from drivetrain.web.forms import field_errors
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
CsrfField = Annotated[str, Form(max_length=100)]

POLICY_FIELDS = ("first_response_seconds", "resolution_seconds", "escalation_seconds")
MATRIX_ROLES = (
    Role.SERVICE_ADVISOR,
    Role.SALES_CONSULTANT,
    Role.STORE_MANAGER,
    Role.REGIONAL_MANAGER,
    Role.HQ_OPS,
    Role.EXECUTIVE,
)
"""The roles the console always shows and edits the matrix for: those the default matrix names. Any other
role holding a cell (set through the API) is shown and edited beside them (see ``_matrix_roles``)."""


def _matrix_roles(session: Session) -> list[Role]:
    """MATRIX_ROLES (up the ladder), then any other role that holds a cell."""
    holding = {cell.role for cell in ApprovalRepository(session).matrix()}
    return [*MATRIX_ROLES, *(role for role in Role if role not in MATRIX_ROLES and role.value in holding)]


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
        "matrix_roles": [role.value for role in _matrix_roles(session)],
    }
    status = 422 if errors else 200
    return render(request, "cases/settings.html", context, subject=subject, status=status)


@router.get("/cases/settings")
def settings_page(
    request: Request,
    subject: ConsoleCaseReader,
    session: SessionDep,
    saved: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """The SLA policy of each priority (editable with cases:configure) and the approval authority matrix."""
    return _settings_page(
        request, session, subject, saved=saved if saved in {p.value for p in Priority} else None
    )


@router.post("/cases/settings/{priority}")
def save_policy(
    request: Request,
    priority: Priority,
    subject: ConsoleCaseConfigurer,
    session: SessionDep,
    csrf_token: CsrfField = "",
    first_response_seconds: Annotated[str, Form(max_length=20)] = "",
    resolution_seconds: Annotated[str, Form(max_length=20)] = "",
    escalation_seconds: Annotated[str, Form(max_length=20)] = "",
    business_hours: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """One priority's budgets, in seconds; a bad field saves nothing and is shown beside its input."""
    check_csrf(request, csrf_token)
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


# ---------------------------------------------------------------- the authority matrix

NO_LIMIT = "unlimited"
"""A cell's state in the form: "" (the role may not approve the kind), NO_LIMIT, or the limit in cents."""
AMOUNT_ERRORS = {
    "greater_than": "cases.authority.error.positive",
    "decimal_max_places": "cases.authority.error.decimals",
    "decimal_max_digits": "cases.authority.error.too_large",
    "decimal_whole_digits": "cases.authority.error.too_large",
}
"""Why an amount was refused (Pydantic's error type) -> the message shown beside it; others: not a number."""


async def _posted_form(request: Request) -> dict[str, str]:
    """The matrix form's fields are named by kind and role, so they are read as a whole."""
    return {key: str(value) for key, value in (await request.form()).items()}


PostedForm = Annotated[dict[str, str], Depends(_posted_form)]


def _state(cents: int | None, *, allowed: bool) -> str:
    return "" if not allowed else NO_LIMIT if cents is None else str(cents)


def _shown_yuan(cents: int) -> str:
    yuan = to_yuan(cents)
    return f"{yuan:.0f}" if yuan == yuan.to_integral_value() else f"{yuan:.2f}"


def _stored_cells(session: Session) -> dict[str, dict[str, dict[str, Any]]]:
    """kind -> role -> the form's cell: the amount in yuan, "no limit", and the state it was read in."""
    stored = {(cell.kind, cell.role): cell.max_amount_cents for cell in ApprovalRepository(session).matrix()}
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    roles = _matrix_roles(session)
    for kind in ApprovalKind:
        for role in roles:
            allowed = (kind.value, role.value) in stored
            cents = stored.get((kind.value, role.value))
            cells.setdefault(kind.value, {})[role.value] = {
                "amount": _shown_yuan(cents) if cents is not None else "",
                "unlimited": allowed and cents is None,
                "was": _state(cents, allowed=allowed),
            }
    return cells


def _authority_page(
    request: Request,
    session: Session,
    subject: AuthSubject,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    typed: dict[str, dict[str, dict[str, Any]]] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    context = {
        "cells": typed or _stored_cells(session),
        "kinds": [kind.value for kind in ApprovalKind],
        "matrix_roles": [role.value for role in _matrix_roles(session)],
        "errors": errors or {},
        "saved": saved,
        "editable": subject.can(Permission.CASES_CONFIGURE),
    }
    status = 422 if errors else 200
    return render(request, "cases/authority.html", context, subject=subject, status=status)


@router.get("/cases/authority")
def authority_page(
    request: Request,
    subject: ConsoleCaseReader,
    session: SessionDep,
    saved: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """The most each role may approve of each kind of request (editable with cases:configure)."""
    return _authority_page(request, session, subject, saved=saved == "1")


def _wanted(typed: dict[str, Any]) -> tuple[str, AuthorityUpdate | None]:
    """A cell's new state and what to store for it (None: the role may no longer approve the kind)."""
    if typed["unlimited"]:
        return NO_LIMIT, AuthorityUpdate(max_amount=None)
    amount = typed["amount"].replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥").strip()
    if not amount:
        return "", None
    data = AuthorityUpdate.model_validate({"max_amount": amount})
    assert data.max_amount is not None  # the schema only allows null when it is sent as null
    return str(to_cents(data.max_amount)), data


@router.post("/cases/authority")
def save_authority(
    request: Request, subject: ConsoleCaseConfigurer, session: SessionDep, form: PostedForm
) -> Response:
    """The whole matrix in one form. Only cells changed on the page are written (a colleague's change to
    another cell since the page was read stays), each through the API's service, so permission and
    audit are the API's; one bad amount saves nothing and is shown beside its input."""
    check_csrf(request, form.get("csrf_token", ""))
    stored = _stored_cells(session)
    typed: dict[str, dict[str, dict[str, Any]]] = {}
    errors: dict[str, dict[str, str]] = {}
    changes: list[tuple[ApprovalKind, Role, AuthorityUpdate | None]] = []
    roles = _matrix_roles(session)
    for kind in ApprovalKind:
        for role in roles:
            name = f"{kind.value}.{role.value}"
            cell = {
                "amount": form.get(name, "").strip(),
                "unlimited": bool(form.get(f"{name}.unlimited")),
                "was": form.get(f"{name}.was", stored[kind.value][role.value]["was"]),
            }
            typed.setdefault(kind.value, {})[role.value] = cell
            try:
                state, data = _wanted(cell)
            except ValidationError as error:
                reason = error.errors()[0]["type"]
                errors.setdefault(kind.value, {})[role.value] = AMOUNT_ERRORS.get(
                    reason, "cases.authority.error.number"
                )
                continue
            if state != cell["was"]:
                changes.append((kind, role, data))
    if errors:
        return _authority_page(request, session, subject, errors=errors, typed=typed)
    for kind, role, data in changes:
        if data is None:
            approvals.remove_authority(session, subject, kind, role)
        else:
            approvals.set_authority(session, subject, kind, role, data=data)
    return RedirectResponse("/cases/authority?saved=1", status_code=303)


@router.get("/cases/report")
def report_page(
    request: Request,
    subject: ConsoleCaseReportReader,
    session: SessionDep,
    group_by: GroupBy = GroupBy.DEALER,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """First response and resolution against the SLA, and CSAT, per dealer or per holder."""
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
