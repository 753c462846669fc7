"""What every import reports: counts, and the bad rows by row number with field and reason."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drivetrain.kit.errors import InvalidInput


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.created + self.updated + self.unchanged

    def reject(self, row: int, error: ValidationError | ValueError, *, default_field: str = "row") -> None:
        if isinstance(error, ValidationError):
            for item in error.errors():
                name = ".".join(str(part) for part in item["loc"]) or default_field
                self.errors.append(RowError(row, name, str(item["msg"]).removeprefix("Value error, ")))
        else:
            self.errors.append(RowError(row, default_field, str(error)))


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON array, or of a CSV file with a header in UTF-8 (with or without BOM) or
    GBK/GB18030 (what Chinese DMS and spreadsheet exports often are)."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise ValueError(f"{path.name}: expected a JSON array of objects")
        return data
    if path.suffix.lower() == ".csv":
        return read_csv(path.read_bytes())
    raise ValueError(f"{path.name}: unsupported file type (use .json or .csv)")


def read_csv(data: bytes) -> list[dict[str, Any]]:
    """Rows of a CSV file with a header, in UTF-8 (with or without BOM) or GBK/GB18030.

    Header names are trimmed and lower-cased; cells past the header's width land under the key None.
    """
    text = _decode(data)
    if "\x00" in text:
        raise InvalidInput("file", "holds NUL characters: not a text file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames or []]
        return list(reader)
    except csv.Error as error:
        raise InvalidInput("file", f"not readable as CSV ({error})") from None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("file", "not UTF-8 or GBK text")
