"""Rows of an export file: CSV (UTF-8 or GBK/GB18030, detected), XLSX, or JSON (an array or JSON lines).

Header names are kept as written (trimmed), since profiles name them; cells past the header's
width land under the key None, as ``csv.DictReader`` puts them. Spreadsheet numbers and dates come
back as the text a person sees, so a phone number is not 1.38e10 and a date not a serial number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from drivetrain.kit.errors import InvalidInput

CSV_SUFFIXES = (".csv", ".txt")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
DETECTED_ENCODINGS = ("utf-8-sig", "gb18030")


def read_rows(
    path: Path, data: bytes, *, encoding: str | None = None, sheet: str | None = None
) -> list[dict[Any, Any]]:
    """The rows of ``data``, the content of ``path`` (whose suffix says the format)."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return read_csv(data, encoding=encoding)
    if suffix in XLSX_SUFFIXES:
        return read_xlsx(data, sheet=sheet)
    if suffix in JSON_SUFFIXES:
        return read_json(data)
    raise InvalidInput("file", f"{path.name}: unsupported file type (use .csv, .xlsx or .json)")


def decode(data: bytes, encoding: str | None = None) -> str:
    """As ``encoding`` when given; else UTF-8 (with or without BOM) when it decodes, else GB18030, which
    GBK exports decode as (it is GBK's superset)."""
    for candidate in (encoding,) if encoding else DETECTED_ENCODINGS:
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    tried = encoding or "UTF-8 or GBK"
    raise InvalidInput("file", f"not {tried} text")


def read_csv(data: bytes, *, encoding: str | None = None) -> list[dict[Any, Any]]:
    text = decode(data, encoding)
    if "\x00" in text:
        raise InvalidInput("file", "holds NUL characters: not a text file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        reader.fieldnames = _header(reader.fieldnames or [])
        return list(reader)
    except csv.Error as error:
        raise InvalidInput("file", f"not readable as CSV ({error})") from None


def read_xlsx(data: bytes, *, sheet: str | None = None) -> list[dict[Any, Any]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # only when a spreadsheet comes
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as error:
        raise InvalidInput("file", f"not readable as XLSX ({error})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InvalidInput("sheet", f"no sheet {sheet!r}; sheets: {', '.join(book.sheetnames)}")
        rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
        return list(_xlsx_records(rows))
    finally:
        book.close()


def _xlsx_records(rows: Iterator[tuple[Any, ...]]) -> Iterator[dict[Any, Any]]:
    first = next(rows, None)
    if first is None:
        return
    header = [_cell_text(cell) or "" for cell in first]
    while header and not header[-1]:
        header.pop()
    header = _header(header)
    width = len(header)
    for cells in rows:
        values = [_cell_text(cell) for cell in cells]
        record: dict[Any, Any] = dict(zip(header, values[:width], strict=False))
        extra = [value for value in values[width:] if value]
        if extra:
            record[None] = extra
        yield record


def _cell_text(cell: Any) -> str | None:
    if cell is None:
        return None
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == time() else cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def read_json(data: bytes) -> list[dict[Any, Any]]:
    """A JSON array of objects, or one object per line (JSON lines)."""
    text = decode(data)
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise InvalidInput("file", f"not readable as JSON ({error})") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise InvalidInput("file", "expected a JSON array of objects, or one object per line")
    return rows


def _header(names: Sequence[str]) -> list[str]:
    header = [name.strip() for name in names]
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InvalidInput("file", f"column {name!r} appears twice in the header")
        seen.add(name)
    return header
