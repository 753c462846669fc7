"""The case SLA report's reads: the subject's cases of a period with their survey score, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.models import Case, CaseStatus, CaseSurvey
from drivetrain.cases.repository import CaseRepository
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Dealer


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


class CaseReportRepository(Repository[Case]):
    """Reads only: every figure starts from the cases' own ``readable``."""

    model = Case
    missing = "no such case"

    def readable(self, subject: AuthSubject) -> Select[Case]:
        return CaseRepository(self.session).readable(subject)

    def case_facts(self, subject: AuthSubject, *, since: datetime, until: datetime) -> list[CaseFacts]:
        """The subject's cases opened in [since, until) with their survey score: one query."""
        stmt = (
            self.readable(subject)
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
        return [CaseFacts(*row) for row in self.session.execute(stmt)]

    def dealer_labels(self, ids: set[str]) -> dict[str, tuple[str, str]]:
        """Code and name of dealers whose cases were read in scope (a display helper)."""
        if not ids:
            return {}
        rows = self.session.execute(select(Dealer.id, Dealer.code, Dealer.name).where(Dealer.id.in_(ids)))
        return {dealer_id: (code, name) for dealer_id, code, name in rows}
