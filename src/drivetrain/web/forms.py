"""Console forms go through the API's own schemas, so the console refuses exactly what the API refuses."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from drivetrain.kit.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def is_htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


def field_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic errors by field; model-level checks name their field as ``field: reason``."""
    found: dict[str, str] = {}
    for item in error.errors():
        reason = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"])
        if not field:
            field, _, reason = reason.partition(": ")
        found.setdefault(field, reason)
    return found


def validated(model: type[M], values: dict[str, Any]) -> M:
    """Form values through a schema; the first problem is an InvalidInput, as in the API."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        field, reason = next(iter(field_errors(error).items()))
        raise InvalidInput(field, reason) from None
