"""First response and resolution against the SLA, and owner satisfaction, per dealer or per owner account.

Every figure is built on ``CaseRepository.readable(subject)``, so a dealer sees only its own cases.
A case belongs to the period it was opened in (whole days, China time). Durations are wall-clock
seconds from opening; "within SLA" compares with the due times set at intake, which already count
business hours where the policy says so.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.models import Case, CaseStatus, CaseSurvey
from drivetrain.cases.repository import CaseRepository
from drivetrain.kit import clock
from drivetrain.kit.periods import percent, period_bounds
from drivetrain.org.models import Dealer
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


@dataclass(frozen=True)
class CaseFacts:
    dealer_id: str | None
    owner_id: str | None
    status: str
    created_at: datetime
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    resolution_due_at: datetime | None
    resolved_at: datetime | None
    csat_score: int | None

    @property
    def first_response_seconds(self) -> float | None:
        if self.first_responded_at is None:
            return None
        return (self.first_responded_at - self.created_at).total_seconds()

    @property
    def resolution_seconds(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.created_at).total_seconds()

    @property
    def responded_in_time(self) -> bool:
        due, done = self.first_response_due_at, self.first_responded_at
        return done is not None and (due is None or done <= due)

    @property
    def resolved_in_time(self) -> bool:
        due, done = self.resolution_due_at, self.resolved_at
        return done is not None and (due is None or done <= due)

    def open_past_due(self, now: datetime) -> bool:
        due = self.resolution_due_at
        return self.status != CaseStatus.RESOLVED and due is not None and due <= now


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


def case_facts(session: Session, subject: AuthSubject, *, start: date, end: date) -> list[CaseFacts]:
    """The subject's cases opened in the period with their survey score: one query."""
    since, until = period_bounds(start, end)
    stmt = (
        CaseRepository(session)
        .readable(subject)
        .where(Case.created_at >= since, Case.created_at < until)
        .outerjoin(CaseSurvey, CaseSurvey.case_id == Case.id)
        .with_only_columns(
            Case.dealer_id,
            Case.owner_id,
            Case.status,
            Case.created_at,
            Case.first_response_due_at,
            Case.first_responded_at,
            Case.resolution_due_at,
            Case.resolved_at,
            CaseSurvey.score,
        )
    )
    return [CaseFacts(*row) for row in session.execute(stmt)]


def _dealer_labels(session: Session, ids: set[str]) -> dict[str, tuple[str, str]]:
    """Code and name of dealers whose cases were read in scope (a display helper, not a read of its own)."""
    if not ids:
        return {}
    rows = session.execute(select(Dealer.id, Dealer.code, Dealer.name).where(Dealer.id.in_(ids)))
    return {dealer_id: (code, name) for dealer_id, code, name in rows}


def case_sla(
    session: Session, subject: AuthSubject, *, start: date, end: date, group_by: GroupBy
) -> list[CaseSlaRow]:
    cases = case_facts(session, subject, start=start, end=end)
    dealers: dict[str, tuple[str, str]] = {}
    owners: dict[str, str] = {}
    if group_by is GroupBy.DEALER:
        dealers = _dealer_labels(session, {c.dealer_id for c in cases if c.dealer_id})
    else:
        owners = StaffRepository(session).usernames({c.owner_id for c in cases if c.owner_id})
    return sla_rows(cases, group_by, dealers=dealers, owners=owners, now=clock.now())
