"""The owner-side feedback form: an owner tells the brand what went wrong (or right) without signing in.

It files a case through the same intake as the hotline (classified, linked to the owner by phone and
car, put on its dealer's ladder). Nobody signs in, so it acts as a system account and guards itself:
a per-IP rate limit, a double-submit form token that also makes a double submit one case, a honeypot.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.roles import Permission, Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases import service
from drivetrain.cases.models import Channel
from drivetrain.cases.schemas import CaseCreate
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.ratelimit import SlidingWindowLimiter
from drivetrain.kit.validators import Phone, Plate, Text, Vin
from drivetrain.web.form_guard import (
    Busy,
    client_of,
    form_token_problem,
    new_form_token,
    reusable_form_token,
    set_form_cookie,
)
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)

FORM_PATH = "/feedback"
FORM_COOKIE = "dt_feedback"
FIELDS = ("phone", "vin", "plate", "description")

FORM_SUBJECT = AuthSubject(
    user_id="",
    username="feedback_form",
    display_name="车主反馈表单",
    role=Role.INTEGRATION,
    via="public",
    permissions=frozenset({Permission.CASES_WORK}),
)
"""Who the public form acts as: all scope (the case goes to the owner's dealer), opening cases only."""

submissions = SlidingWindowLimiter(limit=5, window=timedelta(minutes=10))
"""Submissions per client IP."""
filed = SlidingWindowLimiter(limit=1, window=timedelta(days=1))
"""Form tokens already used: the same page posted twice (a double click, a resend) files one case."""


class OwnerFeedback(BaseModel):
    """What an owner fills in; each bad field maps to one message under it."""

    model_config = ConfigDict(str_strip_whitespace=True)
    phone: Phone
    vin: Vin | None = None
    plate: Plate | None = None
    description: Text = Field(min_length=5, max_length=2000)


@router.get(FORM_PATH)
def show_feedback_form(request: Request) -> HTMLResponse:
    return _form_page(request, values={}, token=None)


@router.post(FORM_PATH)
def submit_feedback(
    request: Request,
    session: SessionDep,
    phone: Annotated[str, Form(max_length=30)] = "",
    vin: Annotated[str, Form(max_length=30)] = "",
    plate: Annotated[str, Form(max_length=20)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    website: Annotated[str, Form(max_length=200)] = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    values = {"phone": phone, "vin": vin, "plate": plate, "description": description}
    client, now = client_of(request), clock.now()
    if not submissions.allow(client, now):
        return _too_many(request, values, form_token, submissions.retry_after(client, now))
    if website:  # only bots fill a field people cannot see: answer as usual, keep nothing
        return _thanks_page(request)
    if (problem := form_token_problem(request, FORM_COOKIE, form_token)) is not None:
        return _form_page(
            request, values=values, token=None, notice="feedback.notice.expired", status=problem
        )
    form, errors = _validate(values)
    if form is None:
        return _form_page(request, values=values, token=form_token, errors=errors, status=422)
    if not filed.allow(form_token, now):
        return _thanks_page(request)
    data = CaseCreate(
        description=form.description,
        phone=form.phone,
        vin=form.vin,
        plate=form.plate,
        channel=Channel.WEBSITE,
    )
    try:
        service.open_case(session, FORM_SUBJECT, data=data)
    except InvalidInput as error:  # e.g. the text normalises to nothing; the used token is replaced
        errors = {error.field: "feedback.error." + error.field}
        return _form_page(request, values=values, token=None, errors=errors, status=422)
    return _thanks_page(request)


def _validate(values: dict[str, str]) -> tuple[OwnerFeedback | None, dict[str, str]]:
    """The parsed form, or the i18n key of the message for each bad field."""
    given = {name: value for name, value in values.items() if value.strip()}
    try:
        return OwnerFeedback.model_validate(given), {}
    except ValidationError as exc:
        return None, {str(e["loc"][0]): f"feedback.error.{e['loc'][0]}" for e in exc.errors()}


def _form_page(
    request: Request,
    *,
    values: dict[str, Any],
    token: str | None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    notice_args: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The form with what was typed kept; a new token (and cookie) unless the current one still holds."""
    form_token = token or new_form_token()
    context = {
        "values": {field: values.get(field, "") for field in FIELDS},
        "errors": errors or {},
        "notice": notice,
        "notice_args": notice_args or {},
        "form_token": form_token,
    }
    response = render(request, "public/feedback.html", context, status=status)
    if token is None:
        set_form_cookie(response, FORM_COOKIE, form_token, path=FORM_PATH)
    return response


def _too_many(request: Request, values: dict[str, Any], token: str, wait: timedelta) -> HTMLResponse:
    """429 with the form still filled in, so the owner can send it once the wait is over."""
    busy = Busy.after(wait, notice="feedback.notice.busy")
    response = _form_page(
        request,
        values=values,
        token=reusable_form_token(request, FORM_COOKIE, token),
        notice=busy.notice,
        notice_args=busy.notice_args,
        status=busy.status,
    )
    return busy.answer(response)


def _thanks_page(request: Request) -> HTMLResponse:
    return render(request, "public/feedback_thanks.html", {})
