"""Shape leads for one subject, in a bounded number of queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer
from drivetrain.kit.phone import mask_phone
from drivetrain.leads.capture import Capture
from drivetrain.leads.models import Channel, Lead, Stage
from drivetrain.leads.repository import LeadRepository, TaskRepository
from drivetrain.leads.schemas import (
    Explanation,
    HistoryRead,
    LeadDetail,
    LeadRead,
    RoutingRead,
    TaskRead,
    TouchRead,
)
from drivetrain.org import directory


def _explanations(items: list[dict[str, Any]], locale: str) -> list[Explanation]:
    text_key = "zh" if locale == "zh-CN" else "en"
    return [Explanation(code=i["code"], text=i[text_key], data=i["data"]) for i in items]


def lead_reads(
    session: Session, subject: AuthSubject, leads: list[Lead], *, locale: str = "zh-CN"
) -> list[LeadRead]:
    repo = LeadRepository(session)
    customers = repo.customers_by_id({lead.customer_id for lead in leads})
    series = repo.series_names({x.series_id for x in leads})
    users = repo.user_names({x.consultant_id for x in leads if x.consultant_id})
    network = directory.dealers(session)
    return [
        _shape(
            subject,
            lead,
            customers[lead.customer_id],
            series_name=series[lead.series_id],
            dealer=network.get(lead.dealer_id) if lead.dealer_id else None,
            consultant=users.get(lead.consultant_id) if lead.consultant_id else None,
            locale=locale,
        )
        for lead in leads
    ]


def captured_read(session: Session, subject: AuthSubject, captured: Capture, *, locale: str) -> LeadRead:
    """The answer to a capture, from what capture already holds (no query but a cold dealer directory)."""
    lead = captured.lead
    return _shape(
        subject,
        lead,
        captured.customer,
        series_name=captured.series_name,
        dealer=directory.dealers(session).get(lead.dealer_id) if lead.dealer_id else None,
        consultant=captured.consultant,
        locale=locale,
        deduplicated=captured.deduplicated,
    )


def _shape(
    subject: AuthSubject,
    lead: Lead,
    customer: Customer,
    *,
    series_name: str,
    dealer: directory.DirectoryDealer | None,
    consultant: tuple[str, str] | None,
    locale: str,
    deduplicated: bool = False,
) -> LeadRead:
    """``consultant``: the consultant's username and display name."""
    phone = customer.primary_phone
    return LeadRead(
        id=lead.id,
        status=Stage(lead.stage),
        customer_id=customer.id,
        customer_name=customer.name,
        phone=(phone if subject.can(Permission.PII_READ) else mask_phone(phone)) if phone else None,
        series=series_name,
        channel=Channel(lead.channel),
        campaign=lead.campaign,
        dealer_code=dealer.code if dealer else None,
        dealer_name=dealer.name if dealer else None,
        consultant=consultant[0] if consultant else None,
        consultant_name=consultant[1] if consultant else None,
        routing=RoutingRead(
            dealer=_explanations(lead.routing.get("dealer", []), locale),
            consultant=_explanations(lead.routing.get("consultant", []), locale),
        ),
        deduplicated=deduplicated,
        first_contact_due_at=lead.first_contact_due_at,
        first_contacted_at=lead.first_contacted_at,
        sla_breaches=lead.sla_breaches,
        lost_reason=lead.lost_reason,
        created_at=lead.created_at,
        updated_at=lead.updated_at,
    )


def lead_detail(session: Session, subject: AuthSubject, lead: Lead, *, locale: str = "zh-CN") -> LeadDetail:
    repo = LeadRepository(session)
    history = repo.history(lead.id)
    tasks = TaskRepository(session).of_lead(lead.id)
    names_needed = {h.actor_id for h in history if h.actor_id} | {
        t.assignee_id for t in tasks if t.assignee_id
    }
    names_needed |= {v for h in history for v in (h.from_value, h.to_value) if v and h.kind != "stage"}
    names = repo.usernames(names_needed)
    return LeadDetail(
        **lead_reads(session, subject, [lead], locale=locale)[0].model_dump(),
        touches=[TouchRead.model_validate(t, from_attributes=True) for t in repo.touches(lead.id)],
        history=[
            HistoryRead(
                at=h.at,
                kind=h.kind,
                from_value=names.get(h.from_value, h.from_value) if h.from_value else None,
                to_value=names.get(h.to_value, h.to_value) if h.to_value else None,
                actor=names.get(h.actor_id) if h.actor_id else None,
                reason=h.reason,
            )
            for h in history
        ],
        tasks=[
            TaskRead(
                id=t.id,
                lead_id=t.lead_id,
                due_at=t.due_at,
                note=t.note,
                done_at=t.done_at,
                assignee=names.get(t.assignee_id) if t.assignee_id else None,
            )
            for t in tasks
        ],
    )
