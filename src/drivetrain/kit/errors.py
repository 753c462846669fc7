"""Domain errors. Services raise these; one handler in ``app.py`` turns them into
``application/problem+json`` (RFC 9457). Routes never build error responses by hand."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(self, detail: str = "", *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Unauthorized(DomainError):
    status = 401
    title = "Not signed in"
    type_slug = "unauthorized"


class InvalidInput(DomainError):
    """Bad input for one field. ``field`` names it the way the client sent it."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", errors=[FieldError(field, reason)])
        self.field = field
        self.reason = reason
