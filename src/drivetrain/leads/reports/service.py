"""Attribution and ROI by channel and campaign, and first-contact time against the SLA by dealer.

Every figure is built on ``LeadRepository.readable(subject)``, so a dealer sees only its own leads.
Spend is OEM-level data: only subjects who see every lead (HQ) get spend and cost columns.
Periods are whole days in China time; a lead belongs to the day it was captured (first-touch
attribution by the lead's channel and campaign).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from drivetrain.auth.subject import AuthSubject
from drivetrain.kit import clock
from drivetrain.kit.periods import percent, period_bounds
from drivetrain.leads.models import Stage
from drivetrain.leads.reports.repository import LeadReportRepository

TEST_DRIVE_REACHED = frozenset({Stage.TEST_DRIVE_DONE.value, Stage.ORDERED.value, Stage.WON.value})
"""Funnel counting: a lead that reached an order went past the test-drive step too."""
ORDER_REACHED = frozenset({Stage.ORDERED.value, Stage.WON.value})
CENT = Decimal("0.01")


# ---------------------------------------------------------------- answers


class ChannelRow(BaseModel):
    channel: str
    campaign: str | None = Field(
        description="None: leads without a campaign and spend on the channel as such"
    )
    leads: int
    contacted: int
    contacted_pct: float | None
    median_first_contact_seconds: float | None = Field(description="From capture to first contact")
    test_drives: int = Field(description="Leads that reached test_drive_done, ordered or won")
    orders: int = Field(description="Leads that reached ordered or won")
    spend: Decimal | None = Field(description="HQ only; None for dealer, group and region views")
    cost_per_lead: Decimal | None
    cost_per_order: Decimal | None


class DealerFirstContactRow(BaseModel):
    dealer_code: str | None = Field(description="None: leads not routed to any dealer")
    dealer_name: str | None
    leads: int
    contacted: int
    median_first_contact_seconds: float | None
    within_sla: int = Field(description="First contacted without ever missing the deadline")
    within_sla_pct: float | None = Field(description="within_sla out of leads")
    sla_breaches: int = Field(description="Deadlines missed, in total")
    waiting_past_due: int = Field(description="Not contacted yet, and past a deadline")


class ChannelReport(BaseModel):
    start: date
    end: date
    costs_visible: bool
    rows: list[ChannelRow]


class FirstContactReport(BaseModel):
    start: date
    end: date
    rows: list[DealerFirstContactRow]


# ---------------------------------------------------------------- pure arithmetic


@dataclass(frozen=True)
class LeadFacts:
    """What the reports need of one lead; ``reached`` is every stage it was ever in."""

    channel: str
    campaign: str
    dealer_id: str | None
    stage: str
    created_at: datetime
    first_contacted_at: datetime | None
    first_contact_due_at: datetime | None
    sla_breaches: int
    reached: frozenset[str]

    @property
    def first_contact_seconds(self) -> float | None:
        if self.first_contacted_at is None:
            return None
        return (self.first_contacted_at - self.created_at).total_seconds()

    def waiting_past_due(self, now: datetime) -> bool:
        """Not contacted, still open, and a deadline passed (breached, or due and not swept yet)."""
        if self.first_contacted_at is not None or self.stage in (Stage.LOST, Stage.WON):
            return False
        overdue = self.first_contact_due_at is not None and self.first_contact_due_at <= now
        return self.sla_breaches > 0 or overdue


def median_seconds(leads: list[LeadFacts]) -> float | None:
    seconds = [s for lead in leads if (s := lead.first_contact_seconds) is not None]
    return round(statistics.median(seconds), 1) if seconds else None


def per(amount: Decimal | None, count: int) -> Decimal | None:
    if amount is None or count == 0:
        return None
    return (amount / count).quantize(CENT, rounding=ROUND_HALF_UP)


def _channel_row(
    key: tuple[str, str], leads: list[LeadFacts], spend: dict[tuple[str, str], Decimal] | None
) -> ChannelRow:
    amount = None if spend is None else spend.get(key, Decimal("0.00"))
    contacted = sum(1 for lead in leads if lead.first_contacted_at is not None)
    orders = sum(1 for lead in leads if lead.reached & ORDER_REACHED)
    return ChannelRow(
        channel=key[0],
        campaign=key[1] or None,
        leads=len(leads),
        contacted=contacted,
        contacted_pct=percent(contacted, len(leads)),
        median_first_contact_seconds=median_seconds(leads),
        test_drives=sum(1 for lead in leads if lead.reached & TEST_DRIVE_REACHED),
        orders=orders,
        spend=amount,
        cost_per_lead=per(amount, len(leads)),
        cost_per_order=per(amount, orders),
    )


def channel_rows(leads: list[LeadFacts], spend: dict[tuple[str, str], Decimal] | None) -> list[ChannelRow]:
    """One row per (channel, campaign) with leads or spend; ``spend`` None hides the cost columns."""
    groups: dict[tuple[str, str], list[LeadFacts]] = defaultdict(list)
    for lead in leads:
        groups[(lead.channel, lead.campaign)].append(lead)
    for key in spend or {}:
        groups.setdefault(key, [])
    return [_channel_row(key, groups[key], spend) for key in sorted(groups)]


def _dealer_row(name: tuple[str, str] | None, leads: list[LeadFacts], now: datetime) -> DealerFirstContactRow:
    within = sum(1 for lead in leads if lead.first_contacted_at is not None and lead.sla_breaches == 0)
    return DealerFirstContactRow(
        dealer_code=name[0] if name else None,
        dealer_name=name[1] if name else None,
        leads=len(leads),
        contacted=sum(1 for lead in leads if lead.first_contacted_at is not None),
        median_first_contact_seconds=median_seconds(leads),
        within_sla=within,
        within_sla_pct=percent(within, len(leads)),
        sla_breaches=sum(lead.sla_breaches for lead in leads),
        waiting_past_due=sum(1 for lead in leads if lead.waiting_past_due(now)),
    )


def dealer_rows(
    leads: list[LeadFacts], dealers: dict[str, tuple[str, str]], *, now: datetime
) -> list[DealerFirstContactRow]:
    """One row per dealer with leads (by code), then the unrouted leads; ``dealers``: id → (code, name)."""
    groups: dict[str | None, list[LeadFacts]] = defaultdict(list)
    for lead in leads:
        groups[lead.dealer_id].append(lead)
    rows = [_dealer_row(dealers.get(d) if d else None, group, now) for d, group in groups.items()]
    return sorted(rows, key=lambda row: (row.dealer_code is None, row.dealer_code or ""))


# ---------------------------------------------------------------- queries


def sees_costs(subject: AuthSubject) -> bool:
    """Spend covers every dealer's leads, so only a subject who sees every lead may divide by it."""
    return subject.is_hq


def lead_facts(session: Session, subject: AuthSubject, *, start: date, end: date) -> list[LeadFacts]:
    """The subject's leads captured in the period (two queries, whatever the number of leads)."""
    since, until = period_bounds(start, end)
    rows, reached = LeadReportRepository(session).lead_rows(
        subject, since=since, until=until, reached_stages=TEST_DRIVE_REACHED
    )
    return [
        LeadFacts(
            channel=row.channel,
            campaign=row.campaign or "",
            dealer_id=row.dealer_id,
            stage=row.stage,
            created_at=row.created_at,
            first_contacted_at=row.first_contacted_at,
            first_contact_due_at=row.first_contact_due_at,
            sla_breaches=row.sla_breaches,
            reached=frozenset(reached.get(row.id, set()) | {row.stage}),
        )
        for row in rows
    ]


def spend_by_campaign(session: Session, *, start: date, end: date) -> dict[tuple[str, str], Decimal]:
    """Spend of the period per (channel, campaign); OEM-level, so callers check ``sees_costs`` first."""
    spend = LeadReportRepository(session).spend_by_campaign(start=start, end=end)
    return {key: total.quantize(CENT) for key, total in spend.items()}


def channel_report(session: Session, subject: AuthSubject, *, start: date, end: date) -> list[ChannelRow]:
    """Leads, contact, funnel and (for HQ) cost by channel and campaign, for leads captured in the period."""
    spend = spend_by_campaign(session, start=start, end=end) if sees_costs(subject) else None
    return channel_rows(lead_facts(session, subject, start=start, end=end), spend)


def first_contact_by_dealer(
    session: Session, subject: AuthSubject, *, start: date, end: date
) -> list[DealerFirstContactRow]:
    """First-contact time and SLA keeping per dealer, for leads captured in the period."""
    leads = lead_facts(session, subject, start=start, end=end)
    dealers = LeadReportRepository(session).dealer_names(
        subject, {lead.dealer_id for lead in leads if lead.dealer_id}
    )
    return dealer_rows(leads, dealers, now=clock.now())
