"""CSV imports for leads (every row captured like an API lead) and channel spend (upserted by day)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.errors import DomainError, InvalidInput
from drivetrain.kit.importing import ImportReport, RowError
from drivetrain.leads.capture import capture
from drivetrain.leads.models import Channel, ChannelSpend
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadCreate

LEAD_COLUMNS = frozenset(
    {
        "name",
        "phone",
        "address",
        "city",
        "series",
        "brand",
        "channel",
        "campaign",
        "source_ref",
        "note",
        "consent_marketing",
    }
)
LEAD_REQUIRED = (("name",), ("phone",), ("series",), ("channel",), ("address", "city"))
SPEND_COLUMNS = frozenset({"date", "channel", "campaign", "amount"})
SPEND_REQUIRED = (("date",), ("channel",), ("amount",))
IMPORT_SOURCE_PREFIX = "import:"
"""Prefix of the source_ref derived for a row that has none; the same row always gets the same one."""

CONSENT_WORDS = {
    "1": True,
    "yes": True,
    "y": True,
    "true": True,
    "是": True,
    "0": False,
    "no": False,
    "n": False,
    "false": False,
    "否": False,
}
DAY = re.compile(r"^(\d{4})([-/])(\d{1,2})\2(\d{1,2})$")
AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
MAX_AMOUNT = Decimal(10) ** 12  # Numeric(14, 2)
CENT = Decimal("0.01")

Outcome = Literal["created", "updated", "unchanged"]


def check_columns(
    records: list[dict[str, Any]], allowed: frozenset[str], required: Iterable[tuple[str, ...]]
) -> None:
    """Reject the whole file when a column is unknown or missing, before anything is written.

    Each entry of ``required`` names columns of which at least one must be there.
    """
    if not records:
        return
    present = {key for record in records for key in record if key is not None}
    unknown = sorted(present - allowed)
    if unknown:
        raise InvalidInput(
            "columns", f"unknown column {unknown[0]!r}; expected: {', '.join(sorted(allowed))}"
        )
    for names in required:
        if not present & set(names):
            alternatives = "".join(f" (or {name!r})" for name in names[1:])
            raise InvalidInput("columns", f"missing column {names[0]!r}{alternatives}")


def _cells(record: dict[str, Any]) -> dict[str, str]:
    """The non-empty cells of a row, trimmed (JSON numbers and booleans as text)."""
    cells: dict[str, str] = {}
    for key, value in record.items():
        if key is None or value is None:
            continue
        text = ("1" if value else "0") if isinstance(value, bool) else str(value).strip()
        if text:
            cells[key] = text
    return cells


def _too_wide(record: dict[Any, Any]) -> bool:
    """Filled cells past the header's width (empty trailing cells, as spreadsheets write them, are fine)."""
    return any(str(cell).strip() for cell in record.get(None) or ())


# ---------------------------------------------------------------- leads


class LeadRow(LeadCreate):
    """One lead as a file row: consent as 1/0, yes/no or 是/否."""

    @field_validator("consent_marketing", mode="before")
    @classmethod
    def _consent(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word not in CONSENT_WORDS:
            raise ValueError("use 1/0, yes/no or 是/否")
        return CONSENT_WORDS[word]


def derived_source_ref(row: LeadCreate, prefix: str) -> str:
    """A stable source_ref from the row's normalised content, so the same row never becomes two leads."""
    digest = hashlib.sha256(row.model_dump_json(exclude={"source_ref"}).encode()).hexdigest()
    return f"{prefix}{digest[:32]}"


def _lead_row(number: int, record: dict[str, Any], prefix: str, report: ImportReport) -> LeadCreate | None:
    if _too_wide(record):
        report.errors.append(RowError(number, "row", "more cells than the header has columns"))
        return None
    try:
        row = LeadRow.model_validate(_cells(record))
    except ValidationError as error:
        report.reject(number, error)
        return None
    if not (row.address or row.city):
        report.errors.append(RowError(number, "address", "give an address or a city"))
        return None
    if row.source_ref is None:
        row = row.model_copy(update={"source_ref": derived_source_ref(row, prefix)})
    return row


def _already_imported(session: Session, data: LeadCreate) -> bool:
    """A lead, or a touch on an open lead, already came from this channel with this source_ref."""
    channel, ref = data.channel.value, data.source_ref or ""
    return bool(LeadRepository(session).by_source_refs({(channel, ref)}))


def _capture(session: Session, subject: AuthSubject, data: LeadCreate) -> Outcome:
    """Capture in a savepoint, so a row that fails leaves nothing behind and the others stay."""
    if _already_imported(session, data):
        return "unchanged"
    with session.begin_nested():
        captured = capture(session, subject, data=data)
    return "updated" if captured.deduplicated else "created"


def _count(report: ImportReport, outcome: Outcome) -> None:
    if outcome == "created":
        report.created += 1
    elif outcome == "updated":
        report.updated += 1
    else:
        report.unchanged += 1


def import_leads(
    session: Session, subject: AuthSubject, records: list[dict[str, Any]], *, idempotent_prefix: str
) -> ImportReport:
    """Capture every good row (routed and notified like any lead); bad rows are reported by number.

    Created: new leads. Updated: rows that became a touch on an open lead of the same person and
    series. Unchanged: rows imported before (same channel and source_ref, given or derived).
    """
    check_columns(records, LEAD_COLUMNS, LEAD_REQUIRED)
    report = ImportReport()
    for number, record in enumerate(records, start=1):
        if not _cells(record):
            continue
        data = _lead_row(number, record, idempotent_prefix, report)
        if data is None:
            continue
        try:
            _count(report, _capture(session, subject, data))
        except InvalidInput as error:
            report.errors.append(RowError(number, error.field, error.reason))
        except DomainError as error:
            report.errors.append(RowError(number, "row", error.detail))
    return report


# ---------------------------------------------------------------- channel spend


def parse_day(text: str) -> date:
    """``2026-03-02``, ``2026/03/02`` or ``2026/3/2``."""
    match = DAY.match(text.strip())
    if match is None:
        raise ValueError("use YYYY-MM-DD or YYYY/MM/DD")
    try:
        return date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        raise ValueError("not a calendar date") from None


def parse_amount(text: str) -> Decimal:
    """``1234.5``, ``1,234.50``: not negative, at most 2 decimal places."""
    text = text.strip()
    if text.startswith("-"):
        raise ValueError("must not be negative")
    if not AMOUNT.match(text):
        raise ValueError("not an amount (e.g. 1234.50 or 1,234.50)")
    value = Decimal(text.replace(",", ""))
    if value != value.quantize(CENT):
        raise ValueError("at most 2 decimal places")
    if value >= MAX_AMOUNT:
        raise ValueError("too large")
    return value.quantize(CENT)


class SpendRow(BaseModel):
    """One day's spend on a channel's campaign (campaign empty: the channel as a whole)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")
    spend_on: date = Field(alias="date")
    channel: Channel
    campaign: str = Field(default="", max_length=80)
    amount: Decimal

    @field_validator("spend_on", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        return parse_day(value) if isinstance(value, str) else value

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        return parse_amount(value) if isinstance(value, str) else value

    @property
    def key(self) -> tuple[date, str, str]:
        return (self.spend_on, self.channel.value, self.campaign)


def _spend_rows(records: list[dict[str, Any]], report: ImportReport) -> list[SpendRow]:
    """Valid rows; bad rows and repeats of a (date, channel, campaign) go to the report."""
    rows: list[SpendRow] = []
    first_seen: dict[tuple[date, str, str], int] = {}
    for number, record in enumerate(records, start=1):
        if not _cells(record):
            continue
        if _too_wide(record):
            report.errors.append(RowError(number, "row", "more cells than the header has columns"))
            continue
        try:
            row = SpendRow.model_validate(_cells(record))
        except ValidationError as error:
            report.reject(number, error)
            continue
        if row.key in first_seen:
            reason = f"repeats date, channel and campaign of row {first_seen[row.key]}"
            report.errors.append(RowError(number, "row", reason))
            continue
        first_seen[row.key] = number
        rows.append(row)
    return rows


def _existing_spend(session: Session, rows: list[SpendRow]) -> dict[tuple[date, str, str], ChannelSpend]:
    if not rows:
        return {}
    days = [row.spend_on for row in rows]
    return LeadRepository(session).spend_between(min(days), max(days))


def _upsert_spend(
    session: Session, subject: AuthSubject, row: SpendRow, spend: ChannelSpend | None
) -> Outcome:
    if spend is not None and spend.amount == row.amount:
        return "unchanged"
    created = spend is None
    before: dict[str, Any] = {} if spend is None else {"amount": str(spend.amount)}
    after: dict[str, Any] = {"amount": str(row.amount)}
    if spend is None:
        spend = ChannelSpend(spend_on=row.spend_on, channel=row.channel.value, campaign=row.campaign)
        session.add(spend)
        after |= {"spend_on": row.spend_on, "channel": row.channel.value, "campaign": row.campaign}
    spend.amount = row.amount
    session.flush()
    audit.record(
        session,
        subject,
        action="channel_spend.create" if created else "channel_spend.update",
        entity_type="channel_spend",
        entity_id=spend.id,
        changes=audit.diff(before, after),
    )
    return "created" if created else "updated"


def import_spend(session: Session, subject: AuthSubject, records: list[dict[str, Any]]) -> ImportReport:
    """Upsert spend by (date, channel, campaign): a changed amount updates, the same one changes nothing."""
    check_columns(records, SPEND_COLUMNS, SPEND_REQUIRED)
    report = ImportReport()
    rows = _spend_rows(records, report)
    existing = _existing_spend(session, rows)
    for row in rows:
        _count(report, _upsert_spend(session, subject, row, existing.get(row.key)))
    return report
