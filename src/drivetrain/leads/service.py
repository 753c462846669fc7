"""Lead capture, routing, assignment, pipeline and first-contact SLA. No HTTP, no commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer
from drivetrain.customers.service import add_timeline
from drivetrain.db import append_row
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.calendar import add_business_time
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput, NotFound
from drivetrain.leads import routing
from drivetrain.leads.models import (
    Channel,
    ConsultantDuty,
    DealerLeadState,
    FollowUpTask,
    Lead,
    LeadHistory,
    LeadSettings,
    Stage,
)
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadSettingsUpdate, Reassignment, StageChange
from drivetrain.org import directory
from drivetrain.org.models import Series
from drivetrain.org.repository import DealerRepository, StaffRepository

WECOM_TOPIC = "wecom.app_message"
STAGE_LABELS_ZH = {
    Stage.NEW: "新线索",
    Stage.CONTACTED: "已联系",
    Stage.TEST_DRIVE_SCHEDULED: "已约试驾",
    Stage.TEST_DRIVE_DONE: "已试驾",
    Stage.NEGOTIATING: "洽谈中",
    Stage.ORDERED: "已下订",
    Stage.WON: "已成交",
    Stage.LOST: "已战败",
}
CHANNEL_LABELS_ZH = {
    Channel.AD: "广告",
    Channel.WEBSITE: "官网",
    Channel.WEIBO: "微博",
    Channel.WECOM: "企业微信",
    Channel.MINI_PROGRAM: "小程序",
    Channel.HOTLINE: "热线",
    Channel.EVENT: "活动",
    Channel.LIVE_STREAM: "直播",
    Channel.REFERRAL: "转介绍",
    Channel.WALK_IN: "到店",
    Channel.EXEC_SOCIAL: "高管社媒",
    Channel.TEST_DRIVE_FORM: "试驾预约",
}
"""What timeline summaries and WeCom messages (stored text, in Chinese) call the channels."""
NEXT_STAGES: dict[Stage, set[Stage]] = {
    Stage.NEW: {Stage.CONTACTED, Stage.TEST_DRIVE_SCHEDULED, Stage.LOST},
    Stage.CONTACTED: {Stage.TEST_DRIVE_SCHEDULED, Stage.NEGOTIATING, Stage.LOST},
    Stage.TEST_DRIVE_SCHEDULED: {Stage.TEST_DRIVE_DONE, Stage.CONTACTED, Stage.LOST},
    Stage.TEST_DRIVE_DONE: {Stage.NEGOTIATING, Stage.ORDERED, Stage.LOST},
    Stage.NEGOTIATING: {Stage.ORDERED, Stage.TEST_DRIVE_SCHEDULED, Stage.LOST},
    Stage.ORDERED: {Stage.WON, Stage.LOST},
    Stage.WON: set(),
    Stage.LOST: {Stage.CONTACTED},  # a lost lead can be revived
}


# ---------------------------------------------------------------- shared steps


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


def history(
    session: Session,
    lead: Lead,
    kind: str,
    *,
    from_value: str | None = None,
    to_value: str | None = None,
    actor: AuthSubject | None = None,
    reason: str | None = None,
) -> None:
    append_row(
        session,
        LeadHistory,
        lead_id=lead.id,
        at=clock.now(),
        kind=kind,
        from_value=from_value,
        to_value=to_value,
        actor_id=actor.user_id if actor and actor.user_id else None,
        reason=reason,
    )


# ---------------------------------------------------------------- routing


def policy_of(settings: LeadSettings) -> routing.RoutingPolicy:
    return routing.RoutingPolicy(
        radius_km=settings.radius_km,
        max_candidates=settings.max_candidates,
        load_weight_km=settings.load_weight_km,
        default_capacity=settings.default_capacity,
    )


def explain(reasons: list[routing.Reason]) -> list[dict[str, Any]]:
    return [{"code": r.code, "zh": r.text_zh, "en": r.text_en, "data": r.data} for r in reasons]


class ConsultantDesk:
    """A dealer's sales consultants with their open-lead loads and the round-robin turn, for one transaction.

    Picks update the loads in memory, so a batch of leads spreads like leads captured one by one;
    the turn is written back once (``persist_turns``), not once per lead.
    """

    def __init__(self, session: Session, dealer_id: str, staff: list[tuple[User, bool, float, int]]) -> None:
        self.session = session
        self.dealer_id = dealer_id
        self.staff = {user.id: user for user, *_ in staff}
        self.candidates = {
            user.id: routing.ConsultantCandidate(
                user_id=user.id, username=user.username, on_duty=on, open_leads=n, weight=w
            )
            for user, on, w, n in staff
        }
        state = session.get(DealerLeadState, dealer_id)
        self.rotation = state.rotation if state else 0
        self.turns = 0

    @classmethod
    def open(cls, session: Session, dealer_id: str) -> ConsultantDesk:
        return cls(session, dealer_id, LeadRepository(session).consultants_at(dealer_id))

    def pick(self, *, exclude: frozenset[str] = frozenset()) -> tuple[User | None, list[routing.Reason]]:
        """The next consultant by weighted least load and turn; nobody on duty: the store manager."""
        decision = routing.choose_consultant(
            list(self.candidates.values()), rotation_index=self.rotation + self.turns + 1, exclude=exclude
        )
        if decision.user_id is not None:
            self.turns += 1
            self.took(decision.user_id)
            return self.staff[decision.user_id], decision.reasons
        manager = LeadRepository(self.session).store_manager_of(self.dealer_id)
        if manager is not None and manager.id not in exclude:
            reason = routing.Reason(
                "store_manager",
                f"无人值班，交店总 {manager.username}",
                f"nobody on duty: store manager {manager.username}",
                {"username": manager.username},
            )
            return manager, [*decision.reasons, reason]
        return None, decision.reasons

    def took(self, user_id: str) -> None:
        """One more open lead for this consultant (picked, or a returning customer's own)."""
        candidate = self.candidates.get(user_id)
        if candidate is not None:
            self.candidates[user_id] = replace(candidate, open_leads=candidate.open_leads + 1)

    def persist_turns(self) -> None:
        if not self.turns:
            return
        state = self.session.get(DealerLeadState, self.dealer_id)
        if state is None:
            state = DealerLeadState(dealer_id=self.dealer_id, accepting=True, rotation=0)
            self.session.add(state)
        state.rotation = self.rotation + self.turns


def _pick_consultant(
    session: Session, dealer_id: str, *, exclude: frozenset[str] = frozenset()
) -> tuple[User | None, list[routing.Reason]]:
    desk = ConsultantDesk.open(session, dealer_id)
    picked = desk.pick(exclude=exclude)
    desk.persist_turns()
    return picked


def first_contact_due(
    session: Session, dealer_id: str, settings: LeadSettings, *, start: datetime
) -> datetime:
    """The SLA deadline, in the dealer's business time when the settings say so (kit.calendar)."""
    hours = directory.working_hours(session, dealer_id) if settings.business_hours else None
    return add_business_time(start, timedelta(seconds=settings.first_contact_seconds), hours)


def _assign(
    session: Session,
    lead: Lead,
    *,
    dealer_id: str | None,
    consultant: User | None,
    settings: LeadSettings,
    actor: AuthSubject | None,
    kind: str,
    reason: str | None = None,
) -> None:
    previous = lead.consultant_id
    now = clock.now()
    lead.dealer_id = dealer_id
    lead.consultant_id = consultant.id if consultant else None
    lead.assigned_at = now
    lead.updated_at = now
    waiting = lead.first_contacted_at is None and lead.stage == Stage.NEW
    lead.first_contact_due_at = (
        first_contact_due(session, dealer_id, settings, start=now)
        if waiting and consultant and dealer_id
        else None
    )
    session.flush()
    history(session, lead, kind, from_value=previous, to_value=lead.consultant_id, actor=actor, reason=reason)
    if kind != "assigned":
        holder = consultant.display_name if consultant else "总部线索池"
        add_timeline(
            session,
            customer_id=lead.customer_id,
            kind=f"lead.{kind}",
            summary=f"线索转派：{holder}（{reason or ''}）",
            actor=actor,
            dealer_id=dealer_id,
            detail={"lead_id": lead.id},
        )
    if consultant is not None:
        _notify(session, lead, consultant)


def _notify(session: Session, lead: Lead, consultant: User) -> None:
    series = session.get(Series, lead.series_id)
    customer = session.get(Customer, lead.customer_id)
    notify_assigned(
        session,
        lead,
        consultant,
        series_name=series.name if series else "",
        customer_name=customer.name if customer else "",
    )


def notify_assigned(
    session: Session, lead: Lead, consultant: User, *, series_name: str, customer_name: str
) -> None:
    payload = {
        "lead_id": lead.id,
        "series": series_name,
        "customer": customer_name,
        "channel": lead.channel,
        "due_at": lead.first_contact_due_at.isoformat() if lead.first_contact_due_at else None,
    }
    events.publish(session, "lead.assigned", recipients=[consultant.id], payload=payload)
    if consultant.wecom_userid:
        local_due = lead.first_contact_due_at.astimezone(CHINA_TZ) if lead.first_contact_due_at else None
        due = f"，请于 {local_due:%m-%d %H:%M} 前首次联系" if local_due else ""
        channel = CHANNEL_LABELS_ZH[Channel(lead.channel)]
        text = f"新线索：{payload['customer']}，意向 {payload['series']}（{channel}）{due}"
        outbox.enqueue(
            session, WECOM_TOPIC, {"to": [consultant.wecom_userid], "text": text, "lead_id": lead.id}
        )


# ---------------------------------------------------------------- pipeline


def change_stage(session: Session, subject: AuthSubject, lead: Lead, *, data: StageChange) -> Lead:
    subject.require(Permission.LEADS_WORK)
    current, target = Stage(lead.stage), data.stage
    if target == current:
        return lead
    if target is Stage.LOST and not (data.lost_reason or "").strip():
        raise InvalidInput("lost_reason", "say why the lead was lost")
    if target not in NEXT_STAGES[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT_STAGES[current])) or "none"
        raise InvalidInput(
            "stage", f"cannot move from {current.value} to {target.value} (allowed: {allowed})"
        )
    now = clock.now()
    lead.stage = target
    lead.updated_at = now
    lead.lost_reason = data.lost_reason if target is Stage.LOST else None
    if lead.first_contacted_at is None and target is not Stage.LOST:
        lead.first_contacted_at = now
    lead.first_contact_due_at = (
        None if lead.first_contacted_at or target is Stage.LOST else lead.first_contact_due_at
    )
    lead.closed_at = now if target in (Stage.WON, Stage.LOST) else None
    history(
        session,
        lead,
        "stage",
        from_value=current.value,
        to_value=target.value,
        actor=subject,
        reason=data.lost_reason,
    )
    log_step(
        session,
        subject,
        lead,
        kind=f"lead.{target.value}",
        summary=f"线索阶段：{STAGE_LABELS_ZH[current]} → {STAGE_LABELS_ZH[target]}",
        detail={"from": current.value},
        action="lead.stage",
        changes={"stage": [current.value, target.value]},
    )
    session.flush()
    return lead


def reassign(session: Session, subject: AuthSubject, lead: Lead, *, data: Reassignment) -> Lead:
    """Manual reassignment, with a reason, to a consultant (or a dealer's next consultant)."""
    subject.require(Permission.LEADS_ASSIGN)
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
        consultant, _ = _pick_consultant(session, dealer_id, exclude=frozenset({lead.consultant_id or ""}))
    before = (lead.dealer_id, lead.consultant_id)
    settings = LeadRepository(session).settings()
    _assign(
        session,
        lead,
        dealer_id=dealer_id,
        consultant=consultant,
        settings=settings,
        actor=subject,
        kind="reassigned",
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


# ---------------------------------------------------------------- first-contact SLA


def breach_first_contact(session: Session, lead_id: str, *, now: datetime) -> bool:
    """First contact overdue: pass the lead to the next consultant and tell the store manager.

    Guarded on the holder and deadline it had, so a second worker or a retry changes nothing.
    Returns whether this call acted.
    """
    lead = session.get(Lead, lead_id)
    due = lead.first_contact_due_at if lead else None
    if (
        lead is None
        or due is None
        or due > now
        or lead.first_contacted_at is not None
        or lead.dealer_id is None
    ):
        return False
    repo = LeadRepository(session)
    holder = lead.consultant_id
    tried = repo.breached_holders(lead.id) | {holder or ""}
    successor, _ = _pick_consultant(session, lead.dealer_id, exclude=frozenset(tried))
    settings = repo.settings()
    new_due = first_contact_due(session, lead.dealer_id, settings, start=now) if successor else None
    guarded: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Lead)
        .where(Lead.id == lead.id, Lead.first_contact_due_at == due, Lead.first_contacted_at.is_(None))
        .where(Lead.consultant_id == holder if holder else Lead.consultant_id.is_(None))
        .values(
            consultant_id=successor.id if successor else holder,
            first_contact_due_at=new_due,
            sla_breaches=Lead.sla_breaches + 1,
            assigned_at=now if successor else Lead.assigned_at,
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if guarded.rowcount != 1:
        return False
    session.refresh(lead)
    late = int((now - due).total_seconds())
    history(
        session,
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
        _notify(session, lead, successor)
    if manager is not None:
        _notify_breach(session, lead, manager, holder)
    return True


def _notify_breach(session: Session, lead: Lead, manager: User, holder: str | None) -> None:
    holder_user = session.get(User, holder) if holder else None
    payload = {
        "lead_id": lead.id,
        "late_holder": holder_user.username if holder_user else None,
        "breaches": lead.sla_breaches,
    }
    events.publish(session, "lead.sla_breached", recipients=[manager.id], payload=payload)
    if manager.wecom_userid:
        text = (
            f"线索首次联系超时（{payload['late_holder'] or '无人'}），已转派；累计超时 {lead.sla_breaches} 次"
        )
        outbox.enqueue(session, WECOM_TOPIC, {"to": [manager.wecom_userid], "text": text, "lead_id": lead.id})


# ---------------------------------------------------------------- follow-ups and settings


def add_task(
    session: Session, subject: AuthSubject, lead: Lead, *, due_at: datetime, note: str
) -> FollowUpTask:
    subject.require(Permission.LEADS_WORK)
    if due_at.tzinfo is None:
        raise InvalidInput("due_at", "give a time zone, e.g. 2026-11-24T10:00:00+08:00")
    task = FollowUpTask(
        lead_id=lead.id,
        assignee_id=lead.consultant_id or subject.user_id or None,
        due_at=due_at,
        note=note,
        created_at=clock.now(),
    )
    session.add(task)
    session.flush()
    history(session, lead, "task", to_value=due_at.isoformat(), actor=subject, reason=note)
    return task


def complete_task(session: Session, subject: AuthSubject, task: FollowUpTask) -> FollowUpTask:
    subject.require(Permission.LEADS_WORK)
    if task.done_at is None:
        task.done_at = clock.now()
    return task


def update_settings(session: Session, subject: AuthSubject, *, data: LeadSettingsUpdate) -> LeadSettings:
    subject.require(Permission.LEADS_CONFIGURE)
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


def set_dealer_intake(
    session: Session, subject: AuthSubject, dealer_id: str, *, accepting: bool | None, capacity: int | None
) -> DealerLeadState:
    subject.require(Permission.LEADS_ASSIGN)
    state = session.get(DealerLeadState, dealer_id) or DealerLeadState(
        dealer_id=dealer_id, accepting=True, rotation=0
    )
    session.add(state)
    before = {"accepting": state.accepting, "capacity": state.capacity}
    if accepting is not None:
        state.accepting = accepting
    state.capacity = capacity
    audit.record(
        session,
        subject,
        action="dealer.lead_intake",
        entity_type="dealer",
        entity_id=dealer_id,
        dealer_id=dealer_id,
        changes=audit.diff(before, {"accepting": state.accepting, "capacity": state.capacity}),
    )
    session.flush()
    return state


def set_duty(
    session: Session, subject: AuthSubject, user: User, *, on_duty: bool, weight: float
) -> ConsultantDuty:
    subject.require(Permission.LEADS_ASSIGN)
    duty = session.get(ConsultantDuty, user.id) or ConsultantDuty(user_id=user.id)
    session.add(duty)
    before = {"on_duty": duty.on_duty, "weight": duty.weight}
    duty.on_duty, duty.weight = on_duty, weight
    audit.record(
        session,
        subject,
        action="staff.duty",
        entity_type="user",
        entity_id=user.id,
        dealer_id=user.dealer_id,
        changes=audit.diff(before, {"on_duty": on_duty, "weight": weight}),
    )
    session.flush()
    return duty
