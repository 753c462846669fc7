"""Console sign-in and sign-out, and the language switch."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from drivetrain.auth import audit, service
from drivetrain.auth.deps import (
    SESSION_COOKIE,
    SessionDep,
    check_csrf,
    optional_console_subject,
)
from drivetrain.auth.gates import ConsoleSignedIn
from drivetrain.config import get_settings
from drivetrain.kit.errors import Unauthorized
from drivetrain.kit.i18n import LANG_COOKIE, LOCALES
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "dt_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login form cannot be used to bounce users elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(
    request: Request, *, next_path: str, error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", {"login_csrf": token, "next": next_path, "error": error}, status=status
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=get_settings().secure_cookies
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if optional_console_subject(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_path=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=60)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=300)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, next_path=_safe_next(next), error="login.expired", status=400)
    try:
        user = service.authenticate(session, username=username, password=password)
    except Unauthorized:
        return _login_page(request, next_path=_safe_next(next), error="login.failed", status=401)
    token, _ = service.open_console_session(session, user)
    audit.record(
        session,
        service.subject_for(user, via="console"),
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
        dealer_id=user.dealer_id,
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    if user.locale in LOCALES:
        response.set_cookie(LANG_COOKIE, user.locale, samesite="lax")
    return response


@router.post("/logout")
def logout(
    request: Request,
    subject: ConsoleSignedIn,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    service.close_console_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, request: Request) -> Response:
    referer = request.headers.get("referer")
    back = _safe_next(urlsplit(referer).path if referer else "/")
    response = RedirectResponse(back, status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 24 * 3600)
    return response
