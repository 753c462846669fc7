"""Guards shared by the public forms nobody signs in to (test drive, owner feedback, CSAT survey).

A double-submit form token: a random token goes both in an HttpOnly cookie scoped to the form's path
and in a hidden field; a post whose two copies differ (or lack one) is refused. Per-IP rate limits and
honeypot fields are each form's own, since their limits and fields differ; what a limited sender is
told (``Busy``) is shared.
"""

from __future__ import annotations

import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import Request, Response

from drivetrain.config import get_settings

R = TypeVar("R", bound=Response)
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


def reusable_form_token(request: Request, cookie: str, submitted: str) -> str | None:
    """The submitted token when it is still good, so a form shown again can be sent again as it is."""
    return submitted if form_token_problem(request, cookie, submitted) is None else None


@dataclass(frozen=True)
class Busy:
    """A sender over a form's rate limit: the form comes back filled in (429) saying how many minutes
    to wait, with Retry-After in seconds, so nothing typed is lost."""

    seconds: int
    notice: str = "public.notice.busy"
    status: int = 429

    @classmethod
    def after(cls, wait: timedelta, *, notice: str = "public.notice.busy") -> Busy:
        return cls(seconds=math.ceil(wait.total_seconds()), notice=notice)

    @property
    def notice_args(self) -> dict[str, Any]:
        return {"minutes": max(1, math.ceil(self.seconds / 60))}

    def answer(self, response: R) -> R:
        response.headers["Retry-After"] = str(self.seconds)
        return response
