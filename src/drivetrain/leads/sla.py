"""The first-contact SLA: when a lead's first contact is due, and what happens when it is missed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from drivetrain.auth.models import User
from drivetrain.customers.service import add_timeline
from drivetrain.jobs import events, outbox
from drivetrain.kit.calendar import add_business_time
from drivetrain.leads.assignment import WECOM_TOPIC, notify, pick_consultant
from drivetrain.leads.models import Lead, LeadSettings
from drivetrain.leads.repository import LeadRepository
from drivetrain.org import directory


def first_contact_due(
    session: Session, dealer_id: str, settings: LeadSettings, *, start: datetime
) -> datetime:
    """The SLA deadline, in the dealer's business time when the settings say so (kit.calendar)."""
    hours = directory.working_hours(session, dealer_id) if settings.business_hours else None
    return add_business_time(start, timedelta(seconds=settings.first_contact_seconds), hours)


def breach_first_contact(session: Session, lead_id: str, *, now: datetime) -> bool:
    """First contact overdue: pass the lead to the next consultant and tell the store manager.

    Guarded on the holder and deadline it had, so a second worker or a retry changes nothing.
    Returns whether this call acted.
    """
    repo = LeadRepository(session)
    lead = repo.by_id(lead_id)
    due = lead.first_contact_due_at if lead else None
    if (
        lead is None
        or due is None
        or due > now
        or lead.first_contacted_at is not None
        or lead.dealer_id is None
    ):
        return False
    holder = lead.consultant_id
    tried = repo.breached_holders(lead.id) | {holder or ""}
    successor, _ = pick_consultant(session, lead.dealer_id, exclude=frozenset(tried))
    new_due = first_contact_due(session, lead.dealer_id, repo.settings(), start=now) if successor else None
    if not repo.pass_on_breach(lead, holder=holder, due=due, successor=successor, new_due=new_due, now=now):
        return False
    late = int((now - due).total_seconds())
    repo.add_history(
        lead,
        "breach",
        from_value=holder,
        to_value=lead.consultant_id,
        reason=f"first contact overdue by {late}s",
    )
    add_timeline(
        session,
        customer_id=lead.customer_id,
        kind="lead.sla_breached",
        summary=f"首次联系超时 {late // 60} 分钟，已转派",
        dealer_id=lead.dealer_id,
        detail={"lead_id": lead.id},
    )
    manager = repo.store_manager_of(lead.dealer_id)
    if successor is not None:
        notify(session, lead, successor)
    if manager is not None:
        _notify_breach(session, lead, manager, holder)
    return True


def _notify_breach(session: Session, lead: Lead, manager: User, holder: str | None) -> None:
    late_holder = LeadRepository(session).username_of(holder) if holder else None
    payload = {"lead_id": lead.id, "late_holder": late_holder, "breaches": lead.sla_breaches}
    events.publish(session, "lead.sla_breached", recipients=[manager.id], payload=payload)
    if manager.wecom_userid:
        text = f"线索首次联系超时（{late_holder or '无人'}），已转派；累计超时 {lead.sla_breaches} 次"
        outbox.enqueue(session, WECOM_TOPIC, {"to": [manager.wecom_userid], "text": text, "lead_id": lead.id})
