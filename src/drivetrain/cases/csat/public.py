"""The owner's survey page: no sign-in, the link's token is the key.

Like the test-drive form it guards itself with a per-IP rate limit on answers and a double-submit
form token (cookie == hidden field). Reads go through the request's reader session; only an
accepted answer writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from drivetrain.auth.deps import SessionDep
from drivetrain.cases.csat import service
from drivetrain.cases.csat.repository import SurveyPage, SurveyRepository
from drivetrain.db import database
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput, NotFound
from drivetrain.kit.ratelimit import SlidingWindowLimiter
from drivetrain.web.form_guard import (
    MAX_TOKEN_LENGTH,
    Busy,
    client_of,
    form_token_problem,
    new_form_token,
    reusable_form_token,
    set_form_cookie,
)
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)

SURVEY_PATH = "/survey"
FORM_COOKIE = "dt_survey"
SCORE_KEYS = {score: f"public.survey.score_{score}" for score in service.SCORES}

answers = SlidingWindowLimiter(limit=10, window=timedelta(minutes=10))
"""Answers per client IP."""


@router.get(SURVEY_PATH + "/{token}")
def show_survey(token: str, request: Request) -> HTMLResponse:
    page = _page(token)
    if page is None:
        return _notice(request, "public.survey.notice.unknown", status=404)
    if page.survey.answered_at is not None:
        return _thanks(request, score=page.survey.score, already=True)
    if clock.now() >= page.survey.expires_at:
        return _notice(request, "public.survey.notice.expired", status=410)
    return _form(request, token, page, values={}, form_token=None)


@router.post(SURVEY_PATH + "/{token}")
def answer_survey(
    token: str,
    request: Request,
    session: SessionDep,
    score: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    values = {"score": score, "comment": comment}
    client = client_of(request)
    now = clock.now()
    allowed = answers.allow(client, now)
    page = _page(token)
    if page is None:
        return _notice(request, "public.survey.notice.unknown", status=404)
    if not allowed:
        return _too_many(request, token, page, values, form_token, answers.retry_after(client, now))
    if (problem := form_token_problem(request, FORM_COOKIE, form_token)) is not None:
        notice = "public.notice.expired"
        return _form(request, token, page, values=values, form_token=None, notice=notice, status=problem)
    try:
        survey = service.answer(session, token=token, score=_score(score), comment=comment or None)
    except InvalidInput as exc:
        errors = {exc.field: f"public.survey.error.{exc.field}"}
        return _form(request, token, page, values=values, form_token=form_token, errors=errors, status=422)
    except Conflict:
        return _thanks(request, score=page.survey.score, already=True, status=409)
    except service.SurveyExpired:
        return _notice(request, "public.survey.notice.expired", status=410)
    except NotFound:
        return _notice(request, "public.survey.notice.unknown", status=404)
    return _thanks(request, score=survey.score, already=False)


def _page(token: str) -> SurveyPage | None:
    """Read through the reader, so that refused answers never take SQLite's single writer."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    with database().session(write=False) as session:
        return SurveyRepository(session).page(token)


def _score(raw: str) -> int:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 1 else 0


def _form(
    request: Request,
    token: str,
    page: SurveyPage,
    *,
    values: dict[str, str],
    form_token: str | None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    notice_args: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The form with what was typed kept; a new form token (and cookie) unless the current one holds."""
    fresh = form_token or new_form_token()
    context = {
        "action": f"{SURVEY_PATH}/{token}",
        "case_title": page.case_title,
        "dealer_name": page.dealer_name,
        "scores": SCORE_KEYS,
        "values": {"score": values.get("score", ""), "comment": values.get("comment", "")},
        "errors": errors or {},
        "notice": notice,
        "notice_args": notice_args or {},
        "form_token": fresh,
        "comment_length": service.COMMENT_LENGTH,
    }
    response = render(request, "public/survey.html", context, status=status)
    if form_token is None:
        set_form_cookie(response, FORM_COOKIE, fresh, path=SURVEY_PATH)
    return response


def _too_many(
    request: Request, token: str, page: SurveyPage, values: dict[str, str], form_token: str, wait: timedelta
) -> HTMLResponse:
    """429 with the answer still filled in, so the owner can send it once the wait is over."""
    busy = Busy.after(wait)
    response = _form(
        request,
        token,
        page,
        values=values,
        form_token=reusable_form_token(request, FORM_COOKIE, form_token),
        notice=busy.notice,
        notice_args=busy.notice_args,
        status=busy.status,
    )
    return busy.answer(response)


def _thanks(request: Request, *, score: int | None, already: bool, status: int = 200) -> HTMLResponse:
    return render(request, "public/survey_thanks.html", {"score": score, "already": already}, status=status)


def _notice(request: Request, key: str, *, status: int) -> HTMLResponse:
    return render(request, "public/survey_thanks.html", {"notice": key}, status=status)
