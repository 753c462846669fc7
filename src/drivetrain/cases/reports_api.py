"""/api/v1/reports on cases: first response and resolution against the SLA, and CSAT."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep, SubjectDep
from drivetrain.auth.roles import Permission
from drivetrain.cases import reports
from drivetrain.cases.reports import CaseSlaReport, GroupBy
from drivetrain.kit.errors import InvalidInput
from drivetrain.leads import reports as lead_reports
from drivetrain.leads.reports_api import DEFAULT_DAYS, FIRST_DAY, LAST_DAY, MAX_DAYS

router = APIRouter(tags=["reports"])
Day = Annotated[date | None, Query(description="YYYY-MM-DD, China time")]


def _in_range(name: str, day: date | None) -> date | None:
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(name, f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


def period(since: date | None, until: date | None) -> tuple[date, date]:
    """The asked days; by default the last 30 days up to today."""
    since, until = _in_range("since", since), _in_range("until", until)
    until = until or lead_reports.today()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise InvalidInput("since", "must be on or before until")
    if (until - since).days + 1 > MAX_DAYS:
        raise InvalidInput("until", f"a report covers at most {MAX_DAYS} days")
    return since, until


@router.get(
    "/reports/case-sla",
    summary="Cases opened, first response and resolution against the SLA, and CSAT, per dealer or owner",
)
def case_sla(
    subject: SubjectDep,
    session: SessionDep,
    group_by: GroupBy = GroupBy.DEALER,
    since: Day = None,
    until: Day = None,
) -> CaseSlaReport:
    subject.require(Permission.REPORTS_READ)
    subject.require(Permission.CASES_READ)
    first, last = period(since, until)
    rows = reports.case_sla(session, subject, start=first, end=last, group_by=group_by)
    return CaseSlaReport(since=first, until=last, group_by=group_by, rows=rows)
