"""The owner-side test-drive form: public, so it guards itself and captures through the one lead flow.

Nobody signs in here, so the form acts as a system account (``FORM_SUBJECT``). It guards itself with
a per-IP rate limit, a double-submit form token (cookie == hidden field) that also keys the lead's
``source_ref`` (the same form posted twice yields one lead), and a honeypot field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.roles import Permission, Role
from drivetrain.auth.service import keyed_hash
from drivetrain.auth.subject import AuthSubject
from drivetrain.db import database
from drivetrain.kit import clock
from drivetrain.kit.i18n import locale_of
from drivetrain.kit.ratelimit import SlidingWindowLimiter
from drivetrain.kit.validators import Name, Phone
from drivetrain.leads.capture import capture
from drivetrain.leads.models import Channel, Lead
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadCreate
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

FORM_PATH = "/test-drive"
FORM_COOKIE = "dt_test_drive"
FIELDS = ("name", "phone", "address", "series", "preferred_time")

FORM_SUBJECT = AuthSubject(
    user_id="",
    username="test_drive_form",
    display_name="试驾预约表单",
    role=Role.INTEGRATION,
    via="public",
    permissions=frozenset({Permission.LEADS_CAPTURE, Permission.CUSTOMERS_WRITE}),
)
"""Who the public form acts as: all scope (so routing runs), and only the two permissions capture needs.

No user id, so no idempotency keys: the form token, as ``source_ref``, dedupes double submits instead.
"""

submissions = SlidingWindowLimiter(limit=5, window=timedelta(minutes=10))
"""Submissions per client IP. ``request.client.host`` only: X-Forwarded-For is anyone's to forge."""


@dataclass(frozen=True)
class SeriesChoice:
    id: str
    name: str
    name_en: str | None
    brand: str


class DriveRequest(BaseModel):
    """What an owner fills in; each bad field maps to one message under it."""

    model_config = ConfigDict(str_strip_whitespace=True)
    name: Name
    phone: Phone
    address: str = Field(min_length=2, max_length=200)
    series: str = Field(min_length=1, max_length=40)
    preferred_time: str = Field(default="", max_length=60)
    consent: bool  # to be contacted about this test drive: required
    marketing: bool = False  # news of models and offers: asked separately, never bundled with the above

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("consent is required to submit")
        return value


@router.get(FORM_PATH)
def show_test_drive_form(request: Request) -> HTMLResponse:
    return _form_page(request, _series_choices(), values={}, token=None)


@router.post(FORM_PATH)
def submit_test_drive(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    series: Annotated[str, Form()] = "",
    preferred_time: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
    marketing: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    values: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "address": address,
        "series": series,
        "preferred_time": preferred_time,
        "consent": bool(consent),
        "marketing": bool(marketing),
    }
    client = client_of(request)
    now = clock.now()
    choices = _series_choices()
    if not submissions.allow(client, now):
        return _too_many(request, choices, values, form_token, submissions.retry_after(client, now))
    if website:  # only bots fill a field people cannot see: answer as usual, keep nothing
        return _thanks_page(request, dealer_name=None)
    if (token_status := form_token_problem(request, FORM_COOKIE, form_token)) is not None:
        return _form_page(
            request, choices, values=values, token=None, notice="public.notice.expired", status=token_status
        )
    form, errors = _validate(values, choices)
    if form is None:
        return _form_page(request, choices, values=values, token=form_token, errors=errors, status=422)
    source_ref = _source_ref(form_token, form)
    captured = capture(
        session, FORM_SUBJECT, data=_lead_data(form, choices[form.series], source_ref=source_ref)
    )
    return _thanks_page(request, dealer_name=_dealer_name(session, captured.lead))


def _validate(
    values: dict[str, Any], choices: dict[str, SeriesChoice]
) -> tuple[DriveRequest | None, dict[str, str]]:
    """The parsed form, or the i18n key of the message for each bad field."""
    errors: dict[str, str] = {}
    form = None
    try:
        form = DriveRequest.model_validate(values)
    except ValidationError as exc:
        errors = {str(e["loc"][0]): f"public.error.{e['loc'][0]}" for e in exc.errors()}
    if values["series"] and values["series"] not in choices:
        errors["series"] = "public.error.series"
    return (form if not errors else None), errors


def _source_ref(token: str, form: DriveRequest) -> str:
    """The form token plus a keyed digest of who and which series: a double submit is one lead, but
    the same page sent back (browser back) with another number is not silently folded into the first."""
    return f"{token}:{keyed_hash(f'{form.phone}|{form.series}')[:16]}"


def _lead_data(form: DriveRequest, series: SeriesChoice, *, source_ref: str) -> LeadCreate:
    return LeadCreate(
        name=form.name,
        phone=form.phone,
        address=form.address,
        series=series.name,
        brand=series.brand,
        channel=Channel.TEST_DRIVE_FORM,
        source_ref=source_ref,
        consent_marketing=True if form.marketing else None,  # an unticked box withdraws nothing
        note=f"期望试驾时间：{form.preferred_time}" if form.preferred_time else None,
    )


def _series_choices() -> dict[str, SeriesChoice]:
    """The catalogue (public information: no scope applies), read through the reader so that refused
    submissions never take SQLite's single writer; only a capture touches the request's write session."""
    with database().session(write=False) as session:
        return {row[0]: SeriesChoice(*row) for row in LeadRepository(session).series_choices()}


def _dealer_name(session: Session, lead: Lead) -> str | None:
    return LeadRepository(session).dealer_name(lead.dealer_id) if lead.dealer_id else None


def _form_page(
    request: Request,
    choices: dict[str, SeriesChoice],
    *,
    values: dict[str, Any],
    token: str | None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    notice_args: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The form with what was typed kept; a new token (and cookie) unless the current one still holds."""
    english = locale_of(request) == "en"
    form_token = token or new_form_token()
    context = {
        "values": {field: values.get(field, "") for field in FIELDS}
        | {"consent": values.get("consent"), "marketing": values.get("marketing")},
        "errors": errors or {},
        "notice": notice,
        "notice_args": notice_args or {},
        "series_options": [(c.id, (c.name_en if english else None) or c.name) for c in choices.values()],
        "brands": "、".join(dict.fromkeys(c.brand for c in choices.values())),
        "form_token": form_token,
    }
    response = render(request, "public/test_drive.html", context, status=status)
    if token is None:
        set_form_cookie(response, FORM_COOKIE, form_token, path=FORM_PATH)
    return response


def _too_many(
    request: Request, choices: dict[str, SeriesChoice], values: dict[str, Any], token: str, wait: timedelta
) -> HTMLResponse:
    """429 with the form still filled in, so the owner can send it once the wait is over."""
    busy = Busy.after(wait)
    response = _form_page(
        request,
        choices,
        values=values,
        token=reusable_form_token(request, FORM_COOKIE, token),
        notice=busy.notice,
        notice_args=busy.notice_args,
        status=busy.status,
    )
    return busy.answer(response)


def _thanks_page(request: Request, *, dealer_name: str | None) -> HTMLResponse:
    return render(request, "public/thanks.html", {"dealer_name": dealer_name})
