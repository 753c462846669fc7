"""FastAPI dependencies: the database session of a request and who is asking.

The API takes a bearer token or the console's session cookie (unsafe methods with
a cookie also need the CSRF header); the console takes the cookie only.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from drivetrain.auth import service
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.db import database
from drivetrain.kit import clock
from drivetrain.kit.errors import Forbidden, Unauthorized

SESSION_COOKIE = "dt_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 10_000
_token_subjects: dict[str, tuple[datetime, AuthSubject]] = {}


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


async def api_subject(request: Request) -> AuthSubject:
    """Who is asking. A bearer token's subject is kept for ``TOKEN_CACHE_SECONDS``, so an
    integration posting many requests reads its token once per few seconds (a revoked token or a
    changed role takes effect within that time); the console cookie is read every time."""
    token = _bearer(request)
    if token is not None:
        return await _token_subject(token)
    return await anyio.to_thread.run_sync(_console_api_subject, request)


async def _token_subject(token: str) -> AuthSubject:
    key = service.keyed_hash(token)
    cached = _token_subjects.get(key)
    if cached is not None and 0 <= (clock.now() - cached[0]).total_seconds() < TOKEN_CACHE_SECONDS:
        return cached[1]
    subject = await anyio.to_thread.run_sync(_read_token_subject, token)
    if subject is None:
        raise Unauthorized("invalid or revoked API token")
    if len(_token_subjects) >= TOKEN_CACHE_SIZE:
        _token_subjects.clear()
    _token_subjects[key] = (clock.now(), subject)
    return subject


def forget_token(token_hash: str) -> None:
    """Drop a revoked token from this process's cache; other processes drop it within the cache time."""
    _token_subjects.pop(token_hash, None)


def _read_token_subject(token: str) -> AuthSubject | None:
    """In a short read session of its own: taking the request's write session here would hold the
    (single SQLite) writer while the request waits for a worker thread, and a burst of requests
    would deadlock the pool."""
    with database().session(write=False) as session:
        return service.subject_for_token(session, token)


def _console_api_subject(request: Request) -> AuthSubject:
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


class LoginRequired(Exception):
    """Raised by console routes without a session; the app answers with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def console_subject(request: Request) -> AuthSubject:
    """Who is signed in to the console; without a session, off to the sign-in page and back."""
    subject = optional_console_subject(request)
    if subject is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return subject


ConsoleSubject = Annotated[AuthSubject, Depends(console_subject)]


@dataclass(frozen=True)
class Gate:
    """What a route demands of who is asking: every permission listed, and with ``hq`` a view of every
    dealer. Declared on the route (``Requires``), checked before the body is read or a row is touched."""

    permissions: tuple[Permission, ...] = ()
    hq: bool = False

    def check(self, subject: AuthSubject) -> AuthSubject:
        for permission in self.permissions:
            subject.require(permission)
        if self.hq:
            subject.require_hq()
        return subject


class ApiGate(Gate):
    async def __call__(self, subject: SubjectDep) -> AuthSubject:
        """Async although it awaits nothing: FastAPI would run a plain function in its thread pool, a
        hand-off per request that a burst of lead captures pays for in latency."""
        return self.check(subject)


class ConsoleGate(Gate):
    async def __call__(self, subject: ConsoleSubject) -> AuthSubject:
        return self.check(subject)


def Requires(*permissions: Permission, hq: bool = False) -> Any:  # noqa: N802 - reads as a type
    """An API route's subject once it passes the gate: ``subject: Annotated[AuthSubject, Requires(P.X)]``.
    ``Requires()`` with nothing asks only that someone is signed in (a token or the console)."""
    return Depends(ApiGate(permissions, hq))


def ConsoleRequires(*permissions: Permission, hq: bool = False) -> Any:  # noqa: N802
    """A console page's subject once it passes the gate (signed out: to the sign-in page)."""
    return Depends(ConsoleGate(permissions, hq))
