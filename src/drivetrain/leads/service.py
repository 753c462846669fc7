"""What staff do to a lead by hand: move it along the pipeline, reassign it, plan follow-ups, and the
lead settings. No HTTP, no commit. Who may do it is declared by the routes (``leads.auth``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.service import add_timeline
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput, NotFound
from drivetrain.kit.i18n import translator
from drivetrain.leads import pipeline
from drivetrain.leads.assignment import assign, pick_consultant
from drivetrain.leads.models import FollowUpTask, Lead, LeadSettings, Stage
from drivetrain.leads.repository import LeadRepository, TaskRepository
from drivetrain.leads.schemas import LeadSettingsUpdate, Reassignment, StageChange
from drivetrain.leads.sla import first_contact_due
from drivetrain.org.repository import DealerRepository, StaffRepository

STORED = translator("zh-CN")
"""Stored text (timeline summaries) is written in Chinese, from the catalogue."""


def log_step(
    session: Session,
    subject: AuthSubject,
    lead: Lead,
    *,
    kind: str,
    summary: str,
    detail: dict[str, Any],
    action: str,
    changes: dict[str, Any],
) -> None:
    """A pipeline step lands on the customer's timeline and in the audit log."""
    add_timeline(
        session,
        customer_id=lead.customer_id,
        kind=kind,
        summary=summary,
        actor=subject,
        dealer_id=lead.dealer_id,
        detail={"lead_id": lead.id, **detail},
    )
    audit.record(
        session,
        subject,
        action=action,
        entity_type="lead",
        entity_id=lead.id,
        dealer_id=lead.dealer_id,
        changes=changes,
    )


def change_stage(session: Session, subject: AuthSubject, lead: Lead, *, data: StageChange) -> Lead:
    current, target = Stage(lead.stage), data.stage
    if target == current:
        return lead
    now = clock.now()
    before = pipeline.LeadClock(lead.first_contacted_at, lead.first_contact_due_at, lead.closed_at)
    moved = pipeline.move(current, target, lost_reason=data.lost_reason, before=before, now=now)
    lead.stage = moved.stage
    lead.updated_at = now
    lead.lost_reason = moved.lost_reason
    lead.first_contacted_at = moved.clock.first_contacted_at
    lead.first_contact_due_at = moved.clock.first_contact_due_at
    lead.closed_at = moved.clock.closed_at
    LeadRepository(session).add_history(
        lead, "stage", from_value=current.value, to_value=target.value, actor=subject, reason=data.lost_reason
    )
    log_step(
        session,
        subject,
        lead,
        kind=f"lead.{target.value}",
        summary=f"线索阶段：{STORED(f'stage.{current.value}')} → {STORED(f'stage.{target.value}')}",
        detail={"from": current.value},
        action="lead.stage",
        changes={"stage": [current.value, target.value]},
    )
    session.flush()
    return lead


def reassign(session: Session, subject: AuthSubject, lead: Lead, *, data: Reassignment) -> Lead:
    """Manual reassignment, with a reason, to a consultant (or a dealer's next consultant)."""
    dealer_id = lead.dealer_id
    if data.dealer_code:
        try:
            dealer_id = DealerRepository(session).by_code(subject, data.dealer_code).id
        except NotFound:
            raise InvalidInput("dealer_code", f"no dealer with code {data.dealer_code}") from None
    if dealer_id is None:
        raise InvalidInput("dealer_code", "say which dealer takes this lead")
    consultant: User | None
    if data.consultant:
        try:
            consultant = StaffRepository(session).by_username(subject, data.consultant)
        except NotFound:
            raise InvalidInput("consultant", f"no staff member {data.consultant}") from None
        if consultant.dealer_id != dealer_id:
            raise InvalidInput("consultant", f"{data.consultant} does not work at that dealer")
    else:
        consultant, _ = pick_consultant(session, dealer_id, exclude=frozenset({lead.consultant_id or ""}))
    before = (lead.dealer_id, lead.consultant_id)
    waiting = lead.first_contacted_at is None and lead.stage == Stage.NEW
    settings = LeadRepository(session).settings()
    due_at = (
        first_contact_due(session, dealer_id, settings, start=clock.now()) if waiting and consultant else None
    )
    assign(
        session,
        lead,
        dealer_id=dealer_id,
        consultant=consultant,
        due_at=due_at,
        actor=subject,
        reason=data.reason,
    )
    audit.record(
        session,
        subject,
        action="lead.reassign",
        entity_type="lead",
        entity_id=lead.id,
        dealer_id=dealer_id,
        changes={"dealer_id": [before[0], dealer_id], "consultant_id": [before[1], lead.consultant_id]},
    )
    return lead


def add_task(
    session: Session, subject: AuthSubject, lead: Lead, *, due_at: datetime, note: str
) -> FollowUpTask:
    if due_at.tzinfo is None:
        raise InvalidInput("due_at", "give a time zone, e.g. 2026-11-24T10:00:00+08:00")
    task = TaskRepository(session).add(
        FollowUpTask(
            lead_id=lead.id,
            assignee_id=lead.consultant_id or subject.user_id or None,
            due_at=due_at,
            note=note,
            created_at=clock.now(),
        )
    )
    session.flush()
    LeadRepository(session).add_history(lead, "task", to_value=due_at.isoformat(), actor=subject, reason=note)
    return task


def complete_task(task: FollowUpTask) -> FollowUpTask:
    if task.done_at is None:
        task.done_at = clock.now()
    return task


def update_settings(session: Session, subject: AuthSubject, *, data: LeadSettingsUpdate) -> LeadSettings:
    settings = LeadRepository(session).settings()
    changes = {}
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None and getattr(settings, name) != value:
            changes[name] = [getattr(settings, name), value]
            setattr(settings, name, value)
    if changes:
        audit.record(
            session,
            subject,
            action="lead_settings.update",
            entity_type="lead_settings",
            entity_id="1",
            changes=changes,
        )
    session.flush()
    return settings
