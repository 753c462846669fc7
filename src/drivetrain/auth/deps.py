"""FastAPI dependencies: the database session of a request and who is asking.

The API takes a bearer token or the console's session cookie (unsafe methods with
a cookie also need the CSRF header); the console takes the cookie only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from drivetrain.auth import service
from drivetrain.auth.subject import AuthSubject
from drivetrain.db import database
from drivetrain.kit.errors import Forbidden, Unauthorized

SESSION_COOKIE = "dt_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed when the route returns without error."""
    session = database().session(write=request.method not in SAFE_METHODS)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _cookie_subject(request: Request, session: Session) -> AuthSubject | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = service.console_session(session, cookie)
    if found is None:
        return None
    console_session, user = found
    request.state.csrf_token = console_session.csrf_token
    return service.subject_for(user, via="console")


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = getattr(request.state, "csrf_token", None)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden("missing or stale CSRF token; reload the page")


def api_subject(request: Request) -> AuthSubject:
    """Who is asking, read in a short session of its own.

    It must not take the request's write session: that would hold the (single SQLite)
    writer while the request waits for a worker thread, and a burst of requests would
    deadlock the pool.
    """
    token = _bearer(request)
    if token is not None:
        with database().session(write=False) as session:
            subject = service.subject_for_token(session, token)
        if subject is None:
            raise Unauthorized("invalid or revoked API token")
        return subject
    subject = optional_console_subject(request)
    if subject is None:
        raise Unauthorized("send Authorization: Bearer <token>")
    if request.method not in SAFE_METHODS:
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return subject


def optional_console_subject(request: Request) -> AuthSubject | None:
    with database().session(write=False) as session:
        return _cookie_subject(request, session)


SubjectDep = Annotated[AuthSubject, Depends(api_subject)]
