"""The lead reports' queries: a period's readable leads with the funnel stages they reached, spend, and
dealer names. Every figure starts from ``LeadRepository.readable(subject)``."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from drivetrain.auth.subject import AuthSubject
from drivetrain.leads.models import ChannelSpend, Lead, LeadHistory
from drivetrain.leads.repository import LeadRepository
from drivetrain.org.models import Dealer
from drivetrain.org.repository import DealerRepository


class LeadReportRepository:
    """Reads across leads, their history, spend and dealers: no one model, so no ``Repository[M]``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _readable_in(self, subject: AuthSubject, since: datetime, until: datetime) -> Select[Lead]:
        return (
            LeadRepository(self.session)
            .readable(subject)
            .where(Lead.created_at >= since, Lead.created_at < until)
        )

    def lead_rows(
        self, subject: AuthSubject, *, since: datetime, until: datetime, reached_stages: frozenset[str]
    ) -> tuple[list[Any], dict[str, set[str]]]:
        """The subject's leads captured in [since, until) (the columns reports use), and per lead the
        ``reached_stages`` its stage history entered: two queries, whatever the number of leads."""
        leads = self._readable_in(subject, since, until)
        stmt = (
            select(LeadHistory.lead_id, LeadHistory.to_value)
            .where(
                LeadHistory.kind == "stage",
                LeadHistory.to_value.in_(reached_stages),
                LeadHistory.lead_id.in_(leads.with_only_columns(Lead.id)),
            )
            .distinct()
        )
        reached: dict[str, set[str]] = defaultdict(set)
        for lead_id, stage in self.session.execute(stmt):
            reached[lead_id].add(stage or "")
        rows = self.session.execute(
            leads.with_only_columns(
                Lead.id,
                Lead.channel,
                Lead.campaign,
                Lead.dealer_id,
                Lead.stage,
                Lead.created_at,
                Lead.first_contacted_at,
                Lead.first_contact_due_at,
                Lead.sla_breaches,
            )
        )
        return list(rows), reached

    def spend_by_campaign(self, *, start: date, end: date) -> dict[tuple[str, str], Decimal]:
        """Spend of the days per (channel, campaign), unrounded; OEM-level data."""
        stmt = (
            select(ChannelSpend.channel, ChannelSpend.campaign, func.sum(ChannelSpend.amount))
            .where(ChannelSpend.spend_on.between(start, end))
            .group_by(ChannelSpend.channel, ChannelSpend.campaign)
        )
        return {
            (channel, campaign): Decimal(total) for channel, campaign, total in self.session.execute(stmt)
        }

    def dealer_names(self, subject: AuthSubject, dealer_ids: set[str]) -> dict[str, tuple[str, str]]:
        """(code, name) of the dealers the subject may see, by id."""
        if not dealer_ids:
            return {}
        stmt = DealerRepository(self.session).readable(subject).where(Dealer.id.in_(dealer_ids))
        return {d.id: (d.code, d.name) for d in self.session.scalars(stmt)}
