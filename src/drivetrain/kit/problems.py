"""RFC 9457 problem details for every error the API answers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from drivetrain.kit.errors import DomainError, FieldError

PROBLEM_JSON = "application/problem+json"
_LOCATION_PREFIXES = ("body", "query", "path", "header", "cookie")


def problem(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: list[FieldError] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://drivetrain.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [{"field": e.field, "reason": e.reason} for e in errors]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_name(loc: tuple[Any, ...]) -> str:
    """``("body", "phone")`` → ``phone``; nested places keep their path (``consents.0.purpose``)."""
    parts = list(loc[1:] if loc and loc[0] in _LOCATION_PREFIXES else loc)
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "body")


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(
        request, status=exc.status, title=exc.title, detail=exc.detail, slug=exc.type_slug, errors=exc.errors
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(field_name(tuple(e["loc"])), _reason(str(e["msg"]))) for e in exc.errors()]
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    return problem(
        request, status=422, title="Invalid input", detail=detail, slug="invalid-input", errors=errors
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(
        request, status=exc.status_code, title=str(exc.detail), detail=str(exc.detail), slug="http"
    )
