"""/api/v1/reports on leads, and the CSV imports of leads and channel spend."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel

from drivetrain.auth.deps import SessionDep
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.importing import ImportReport, read_csv
from drivetrain.kit.periods import report_days
from drivetrain.leads import importing
from drivetrain.leads.auth import LeadCapturer, LeadConfigurer, ReportReader
from drivetrain.leads.reports import service as reports
from drivetrain.leads.reports.service import ChannelReport, FirstContactReport

router = APIRouter(tags=["reports"])

MAX_CSV_BYTES = 5 * 1024 * 1024
Day = Annotated[date | None, Query(description="YYYY-MM-DD, China time")]
CsvBody = Annotated[
    bytes,
    Body(media_type="text/csv", description="CSV with a header row, in UTF-8 (BOM or not) or GBK"),
]


class RowErrorRead(BaseModel):
    row: int
    field: str
    reason: str


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: list[RowErrorRead]

    @classmethod
    def of(cls, report: ImportReport) -> ImportResult:
        errors = [RowErrorRead(row=e.row, field=e.field, reason=e.reason) for e in report.errors]
        return cls(created=report.created, updated=report.updated, unchanged=report.unchanged, errors=errors)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    return report_days(start, end, today=clock.today_in_china(), names=("start", "end"))


def _csv_records(body: bytes) -> list[dict[str, Any]]:
    if len(body) > MAX_CSV_BYTES:
        raise InvalidInput("file", f"larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; split it")
    if not body.strip():
        raise InvalidInput("file", "empty; send a CSV with a header row")
    return read_csv(body)


@router.get("/reports/lead-channels", summary="Leads, contact, test drives, orders and cost by channel")
def lead_channels(
    subject: ReportReader, session: SessionDep, start: Day = None, end: Day = None
) -> ChannelReport:
    first, last = period(start, end)
    rows = reports.channel_report(session, subject, start=first, end=last)
    return ChannelReport(start=first, end=last, costs_visible=reports.sees_costs(subject), rows=rows)


@router.get("/reports/first-contact", summary="First-contact time against the SLA, by dealer")
def first_contact(
    subject: ReportReader, session: SessionDep, start: Day = None, end: Day = None
) -> FirstContactReport:
    first, last = period(start, end)
    rows = reports.first_contact_by_dealer(session, subject, start=first, end=last)
    return FirstContactReport(start=first, end=last, rows=rows)


@router.post("/leads/import", summary="Capture leads from a CSV; bad rows are reported by row number")
def import_leads(body: CsvBody, subject: LeadCapturer, session: SessionDep) -> ImportResult:
    report = importing.import_leads(
        session, subject, _csv_records(body), idempotent_prefix=importing.IMPORT_SOURCE_PREFIX
    )
    return ImportResult.of(report)


@router.post(
    "/spend/import", summary="Load channel and campaign spend from a CSV (date, channel, campaign, amount)"
)
def import_spend(body: CsvBody, subject: LeadConfigurer, session: SessionDep) -> ImportResult:
    return ImportResult.of(importing.import_spend(session, subject, _csv_records(body)))
