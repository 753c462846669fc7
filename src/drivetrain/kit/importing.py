"""What every import reports: counts, and the bad rows by row number with field and reason."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError


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
    """Rows of a JSON array or a CSV file with a header (UTF-8, with or without BOM)."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise ValueError(f"{path.name}: expected a JSON array of objects")
        return data
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    raise ValueError(f"{path.name}: unsupported file type (use .json or .csv)")
