"""Guards shared by the public forms nobody signs in to (test drive, owner feedback, CSAT survey).

A double-submit form token: a random token goes both in an HttpOnly cookie scoped to the form's path
and in a hidden field; a post whose two copies differ (or lack one) is refused. Per-IP rate limits and
honeypot fields are each form's own, since their limits and fields differ.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from drivetrain.config import get_settings

TOKEN_BYTES = 24
MAX_TOKEN_LENGTH = 64


def new_form_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def form_token_problem(request: Request, cookie: str, submitted: str) -> int | None:
    """400 when the form token or its cookie is missing (an expired page), 403 when they differ."""
    expected = request.cookies.get(cookie, "")
    if not expected or not submitted:
        return 400
    if len(submitted) > MAX_TOKEN_LENGTH or not hmac.compare_digest(expected, submitted):
        return 403
    return None


def set_form_cookie(response: Response, cookie: str, token: str, *, path: str) -> None:
    response.set_cookie(
        cookie, token, path=path, httponly=True, samesite="strict", secure=get_settings().secure_cookies
    )


def client_of(request: Request) -> str:
    """The client's address as the socket saw it: X-Forwarded-For is anyone's to forge."""
    return request.client.host if request.client else "unknown"
