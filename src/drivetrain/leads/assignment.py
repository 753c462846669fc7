"""Who holds a lead: the consultant desk (duty, load, round robin), assigning and its notices, and the
dealer's intake and consultants' duty that feed it. No HTTP, no commit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.service import add_timeline
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.i18n import translator
from drivetrain.leads import routing
from drivetrain.leads.models import ConsultantDuty, DealerLeadState, Lead, LeadSettings
from drivetrain.leads.repository import LeadRepository

WECOM_TOPIC = "wecom.app_message"
STORED = translator("zh-CN")
"""Stored text (timeline summaries, WeCom messages) is written in Chinese, from the catalogue."""


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


def pick_consultant(
    session: Session, dealer_id: str, *, exclude: frozenset[str] = frozenset()
) -> tuple[User | None, list[routing.Reason]]:
    """One pick outside a batch: the desk is opened and its turn written back at once."""
    desk = ConsultantDesk.open(session, dealer_id)
    picked = desk.pick(exclude=exclude)
    desk.persist_turns()
    return picked


def assign(
    session: Session,
    lead: Lead,
    *,
    dealer_id: str,
    consultant: User | None,
    due_at: datetime | None,
    actor: AuthSubject | None,
    reason: str | None,
) -> None:
    """Hand the lead over by hand: history, the customer's timeline, and a notice to the new holder.

    ``due_at``: the new first-contact deadline, None unless the lead still waits for its first contact
    (``sla.first_contact_due``).
    """
    previous = lead.consultant_id
    now = clock.now()
    lead.dealer_id = dealer_id
    lead.consultant_id = consultant.id if consultant else None
    lead.assigned_at = now
    lead.updated_at = now
    lead.first_contact_due_at = due_at if consultant else None
    session.flush()
    LeadRepository(session).add_history(
        lead, "reassigned", from_value=previous, to_value=lead.consultant_id, actor=actor, reason=reason
    )
    holder = consultant.display_name if consultant else "总部线索池"
    add_timeline(
        session,
        customer_id=lead.customer_id,
        kind="lead.reassigned",
        summary=f"线索转派：{holder}（{reason or ''}）",
        actor=actor,
        dealer_id=dealer_id,
        detail={"lead_id": lead.id},
    )
    if consultant is not None:
        notify(session, lead, consultant)


def notify(session: Session, lead: Lead, consultant: User) -> None:
    """Tell the new holder, with the names read for it."""
    series_name, customer_name = LeadRepository(session).series_and_customer_names(lead)
    notify_assigned(session, lead, consultant, series_name=series_name, customer_name=customer_name)


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
        channel = STORED(f"channel_lead.{lead.channel}")
        text = f"新线索：{payload['customer']}，意向 {payload['series']}（{channel}）{due}"
        outbox.enqueue(
            session, WECOM_TOPIC, {"to": [consultant.wecom_userid], "text": text, "lead_id": lead.id}
        )


def set_dealer_intake(
    session: Session, subject: AuthSubject, dealer_id: str, *, accepting: bool | None, capacity: int | None
) -> DealerLeadState:
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
