"""/api/v1/reports on cases: first response and resolution against the SLA, and CSAT."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.cases.auth import CaseReportReader
from drivetrain.cases.reports import service as reports
from drivetrain.cases.reports.service import CaseSlaReport, GroupBy
from drivetrain.kit import clock
from drivetrain.kit.periods import report_days

router = APIRouter(tags=["reports"])
Day = Annotated[date | None, Query(description="YYYY-MM-DD, China time")]


def period(since: date | None, until: date | None) -> tuple[date, date]:
    return report_days(since, until, today=clock.today_in_china(), names=("since", "until"))


@router.get(
    "/reports/case-sla",
    summary="Cases opened, first response and resolution against the SLA, and CSAT, per dealer or owner",
)
def case_sla(
    subject: CaseReportReader,
    session: SessionDep,
    group_by: GroupBy = GroupBy.DEALER,
    since: Day = None,
    until: Day = None,
) -> CaseSlaReport:
    first, last = period(since, until)
    rows = reports.case_sla(session, subject, start=first, end=last, group_by=group_by)
    return CaseSlaReport(since=first, until=last, group_by=group_by, rows=rows)
