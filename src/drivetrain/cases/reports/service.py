"""First response and resolution against the SLA, and owner satisfaction, per dealer or per owner account.

Every figure is built on ``CaseRepository.readable(subject)`` (through ``CaseReportRepository``), so a
dealer sees only its own cases.
A case belongs to the period it was opened in (whole days, China time). Durations are wall-clock
seconds from opening; "within SLA" compares with the due times set at intake, which already count
business hours where the policy says so.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.reports.repository import CaseFacts, CaseReportRepository
from drivetrain.kit import clock
from drivetrain.kit.periods import percent, period_bounds
from drivetrain.org.repository import StaffRepository


class GroupBy(StrEnum):
    DEALER = "dealer"
    OWNER = "owner"


class CaseSlaRow(BaseModel):
    dealer_code: str | None = Field(description="By dealer: None for cases held by HQ (no dealer)")
    dealer_name: str | None
    owner: str | None = Field(description="By owner: the username holding the case now; None if nobody")
    cases: int = Field(description="Cases opened in the period")
    first_responses: int
    median_first_response_seconds: float | None
    first_responses_within_sla: int = Field(description="First responded at or before the due time")
    first_responses_within_sla_pct: float | None = Field(description="Out of first responses")
    resolved: int
    median_resolution_seconds: float | None
    resolved_within_sla: int = Field(description="Resolved at or before the resolution due time")
    resolved_within_sla_pct: float | None = Field(description="Out of resolved cases")
    open_past_due: int = Field(description="Not resolved, and past the resolution due time now")
    csat_responses: int = Field(description="Satisfaction surveys answered")
    csat_average: float | None = Field(description="Average score, 1 to 5")


class CaseSlaReport(BaseModel):
    since: date
    until: date
    group_by: GroupBy
    rows: list[CaseSlaRow]


# ---------------------------------------------------------------- pure arithmetic


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _row(
    label: tuple[str | None, str | None, str | None], cases: list[CaseFacts], now: datetime
) -> CaseSlaRow:
    responded = [s for case in cases if (s := case.first_response_seconds) is not None]
    resolved = [s for case in cases if (s := case.resolution_seconds) is not None]
    in_time = sum(1 for case in cases if case.responded_in_time)
    resolved_in_time = sum(1 for case in cases if case.resolved_in_time)
    scores = [case.csat_score for case in cases if case.csat_score is not None]
    return CaseSlaRow(
        dealer_code=label[0],
        dealer_name=label[1],
        owner=label[2],
        cases=len(cases),
        first_responses=len(responded),
        median_first_response_seconds=median(responded),
        first_responses_within_sla=in_time,
        first_responses_within_sla_pct=percent(in_time, len(responded)),
        resolved=len(resolved),
        median_resolution_seconds=median(resolved),
        resolved_within_sla=resolved_in_time,
        resolved_within_sla_pct=percent(resolved_in_time, len(resolved)),
        open_past_due=sum(1 for case in cases if case.open_past_due(now)),
        csat_responses=len(scores),
        csat_average=round(statistics.fmean(scores), 2) if scores else None,
    )


def sla_rows(
    cases: list[CaseFacts],
    group_by: GroupBy,
    *,
    dealers: dict[str, tuple[str, str]],
    owners: dict[str, str],
    now: datetime,
) -> list[CaseSlaRow]:
    """One row per dealer (``dealers``: id → (code, name)) or per owner (``owners``: id → username),
    sorted by code or username; cases without one come last."""
    groups: dict[str | None, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        groups[case.dealer_id if group_by is GroupBy.DEALER else case.owner_id].append(case)

    def label(key: str | None) -> tuple[str | None, str | None, str | None]:
        if key is None:
            return None, None, None
        if group_by is GroupBy.DEALER:
            return (*dealers[key], None)
        return None, None, owners[key]

    def order(row: CaseSlaRow) -> tuple[bool, str]:
        name = row.dealer_code if group_by is GroupBy.DEALER else row.owner
        return name is None, name or ""

    return sorted((_row(label(key), group, now) for key, group in groups.items()), key=order)


# ---------------------------------------------------------------- queries


def case_sla(
    session: Session, subject: AuthSubject, *, start: date, end: date, group_by: GroupBy
) -> list[CaseSlaRow]:
    repo = CaseReportRepository(session)
    since, until = period_bounds(start, end)
    cases = repo.case_facts(subject, since=since, until=until)
    dealers: dict[str, tuple[str, str]] = {}
    owners: dict[str, str] = {}
    if group_by is GroupBy.DEALER:
        dealers = repo.dealer_labels({c.dealer_id for c in cases if c.dealer_id})
    else:
        owners = StaffRepository(session).usernames({c.owner_id for c in cases if c.owner_id})
    return sla_rows(cases, group_by, dealers=dealers, owners=owners, now=clock.now())
