"""Pydantic-ready field types built on the kit normalisers: a bad value fails with a reason at its field."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from drivetrain.kit.idcard import normalize_id_number
from drivetrain.kit.phone import normalize_phone
from drivetrain.kit.plate import normalize_plate
from drivetrain.kit.vin import normalize_vin


def _printable(value: str) -> str:
    """Control characters (NUL above all: PostgreSQL refuses it in text) are typos or attacks, not data."""
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_printable)]
Phone = Annotated[str, AfterValidator(normalize_phone)]
Vin = Annotated[str, AfterValidator(normalize_vin)]
Plate = Annotated[str, AfterValidator(normalize_plate)]
IdNumber = Annotated[str, AfterValidator(normalize_id_number)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), AfterValidator(_printable)
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=120, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
