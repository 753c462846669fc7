"""Case intake, the escalation clock (pause, resume, resolve) and SLA policies. No HTTP, no commit."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.roles import Permission, Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.classify import Severity, classify
from drivetrain.cases.classify.symptoms import symptom_of
from drivetrain.cases.classify.text import normalize_text
from drivetrain.cases.csat.service import send_survey
from drivetrain.cases.ladder import RUNG_NAMES, CasePlace, StaffMember, Step, first_step, ladder, next_step
from drivetrain.cases.models import Case, CaseHistory, CaseStatus, CaseType, Priority, Rung, SlaPolicy
from drivetrain.cases.repository import CaseRepository, DueCase
from drivetrain.cases.schemas import CaseCreate, CaseNote, CaseStatusChange, SlaPolicyUpdate
from drivetrain.customers.models import Customer, TimelineEvent, Vehicle
from drivetrain.customers.repository import CustomerFilter, CustomerRepository, VehicleRepository
from drivetrain.customers.service import add_timeline
from drivetrain.db import Base
from drivetrain.jobs import events, outbox
from drivetrain.jobs.broker import remember_recipients
from drivetrain.jobs.models import Event, OutboxMessage
from drivetrain.kit import clock
from drivetrain.kit.calendar import WorkingHours, add_business_time, business_time_between
from drivetrain.kit.errors import InvalidInput, NotFound
from drivetrain.org import directory
from drivetrain.org.models import Dealer
from drivetrain.org.repository import DealerRepository

WECOM_TOPIC = "wecom.app_message"
RUNG_LABELS_ZH = {
    Rung.ASSIGNEE: "处理人",
    Rung.STORE_MANAGER: "店总",
    Rung.REGIONAL_MANAGER: "大区经理",
    Rung.HQ_OPS_HEAD: "总部客户运营负责人",
    Rung.CEO: "CEO",
}
TITLE_LENGTH = 40


# ---------------------------------------------------------------- clock arithmetic


def hours_for(session: Session, case: Case, policy: SlaPolicy) -> WorkingHours | None:
    """The calendar a case's budgets run on: the dealer's opening hours, or 24x7 (critical always is)."""
    return _hours(session, case.priority, case.dealer_id, policy)


def _hours(session: Session, priority: str, dealer_id: str | None, policy: SlaPolicy) -> WorkingHours | None:
    if priority == Priority.CRITICAL or not policy.business_hours or dealer_id is None:
        return None
    return directory.working_hours(session, dealer_id)


def _budget(policy: SlaPolicy) -> timedelta:
    return timedelta(seconds=policy.escalation_seconds)


# ---------------------------------------------------------------- history and notices


def _history(
    session: Session,
    case: Case,
    kind: str,
    *,
    at: datetime,
    level: int,
    from_owner: str | None = None,
    to_owner: str | None = None,
    actor: AuthSubject | None = None,
    note: str | None = None,
    held_seconds: int | None = None,
) -> None:
    session.add(
        CaseHistory(
            case_id=case.id,
            at=at,
            kind=kind,
            from_owner_id=from_owner,
            to_owner_id=to_owner,
            level=level,
            actor_id=actor.user_id if actor and actor.user_id else None,
            note=note,
            held_seconds=held_seconds,
        )
    )


def _skipped(session: Session, case: Case, skipped: list[Step], *, at: datetime) -> None:
    for step in skipped:
        _history(
            session, case, "skipped", at=at, level=int(step.level), note=f"{step.name}: {_why_skipped(step)}"
        )


def _why_skipped(step: Step) -> str:
    return "nobody holds this rung" if step.holder is None else "the holder already has the case"


@dataclass(frozen=True)
class _Notice:
    """What the new holder of a case is told: the live event's payload and the WeCom message."""

    case_id: str
    title: str
    priority: str
    level: int
    due_at: datetime | None

    def payload(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "title": self.title,
            "priority": self.priority,
            "escalation_level": self.level,
            "rung": RUNG_NAMES[Rung(self.level)],
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }

    def wecom_message(self, event_type: str, wecom_userid: str) -> dict[str, Any]:
        verb = "升级至您" if event_type == "case.escalated" else "分派给您"
        text = f"客诉工单{verb}（{RUNG_LABELS_ZH[Rung(self.level)]}，优先级 {self.priority}）：{self.title}"
        return {"to": [wecom_userid], "text": text, "case_id": self.case_id}


def _notify(session: Session, case: Case, owner_id: str | None, event_type: str) -> None:
    owner = session.get(User, owner_id) if owner_id else None
    if owner is None:
        return
    notice = _Notice(case.id, case.title, case.priority, case.escalation_level, case.escalation_due_at)
    events.publish(session, event_type, recipients=[owner.id], payload=notice.payload())
    if owner.wecom_userid:
        outbox.enqueue(session, WECOM_TOPIC, notice.wecom_message(event_type, owner.wecom_userid))


# ---------------------------------------------------------------- intake


def _dealer_of(session: Session, subject: AuthSubject, code: str | None) -> Dealer | None:
    if code is None:
        return None
    try:
        return DealerRepository(session).by_code(subject, code)
    except NotFound:
        raise InvalidInput("dealer_code", f"no dealer with code {code}") from None


def _vehicle_of(session: Session, subject: AuthSubject, data: CaseCreate) -> Vehicle | None:
    """The car named by VIN or plate, when the subject may see it; otherwise the case keeps the text only."""
    stmt = VehicleRepository(session).readable(subject)
    if data.vin:
        return session.scalar(stmt.where(Vehicle.vin == data.vin))
    if data.plate:
        return session.scalar(stmt.where(Vehicle.plate == data.plate).order_by(Vehicle.id).limit(1))
    return None


def _customer_of(
    session: Session, subject: AuthSubject, data: CaseCreate, vehicle: Vehicle | None
) -> Customer | None:
    """The car's owner, else the customer with this mobile: only customers the subject may see, so a
    phone number never reveals another dealer's customer."""
    repo = CustomerRepository(session)
    if vehicle is not None and vehicle.owner_id:
        owner = session.scalar(repo.readable(subject).where(Customer.id == vehicle.owner_id))
        if owner is not None:
            return owner
    if data.phone:
        found = repo.search(subject, CustomerFilter(phone=data.phone), cursor=None, limit=1)
        return found[0] if found else None
    return None


def _default_type(severity: Severity, sentiment: int) -> CaseType:
    urgent = severity in (Severity.CRITICAL, Severity.HIGH)
    return CaseType.COMPLAINT if urgent or sentiment < 0 else CaseType.FEEDBACK


def open_case(session: Session, subject: AuthSubject, *, data: CaseCreate) -> Case:
    """A case from any channel: normalised, classified, linked to customer and car, placed on the
    first rung of its ladder with the clock running. Everything is checked before anything is written."""
    subject.require(Permission.CASES_WORK)
    dealer = _dealer_of(session, subject, data.dealer_code)
    vehicle = _vehicle_of(session, subject, data)
    customer = _customer_of(session, subject, data, vehicle)
    dealer_id = dealer.id if dealer else (customer.dealer_id if customer else None) or subject.dealer_id
    if dealer_id is None and subject.scope is not Scope.ALL:
        raise InvalidInput("dealer_code", "say which of your dealers handles this case")
    description = normalize_text(data.description)
    if not description:
        raise InvalidInput("description", "describe the issue")
    found = classify(description)
    title = normalize_text(data.title) if data.title else description[:TITLE_LENGTH]
    repo = CaseRepository(session)
    priority = Priority(found.severity.value)
    policy = repo.policy(priority)
    region_id = repo.region_of(dealer_id)
    steps = ladder(
        CasePlace(dealer_id, region_id, found.category.value), repo.ladder_staff(dealer_id, region_id)
    )
    step, skipped = first_step(steps)
    now = clock.now()
    case = Case(
        type=(data.type or _default_type(found.severity, found.sentiment)).value,
        channel=data.channel.value,
        title=title,
        description=description,
        phone=data.phone,
        vin=data.vin,
        plate=data.plate,
        customer_id=customer.id if customer else None,
        vehicle_id=vehicle.id if vehicle else None,
        series_id=vehicle.series_id if vehicle else None,
        dealer_id=dealer_id,
        opened_by_id=subject.user_id or None,
        category=found.category.value,
        severity=found.severity.value,
        sentiment=found.sentiment,
        aspects=[a.value for a in found.aspects],
        symptom=symptom_of(description),
        priority=priority.value,
        status=CaseStatus.OPEN.value,
        escalation_level=int(step.level) if step else 0,
        owner_id=step.holder.user_id if step and step.holder else None,
        held_since=now,
        created_at=now,
        updated_at=now,
    )
    hours = hours_for(session, case, policy)
    above, _ = next_step(steps, case.escalation_level, case.owner_id)
    case.escalation_due_at = add_business_time(now, _budget(policy), hours) if above else None
    case.first_response_due_at = add_business_time(
        now, timedelta(seconds=policy.first_response_seconds), hours
    )
    case.resolution_due_at = add_business_time(now, timedelta(seconds=policy.resolution_seconds), hours)
    session.add(case)
    session.flush()
    _skipped(session, case, skipped, at=now)
    _history(
        session,
        case,
        "opened",
        at=now,
        level=case.escalation_level,
        to_owner=case.owner_id,
        actor=subject,
        note=f"{data.channel.value}: {RUNG_NAMES[Rung(case.escalation_level)]}",
    )
    audit.record(
        session,
        subject,
        action="case.open",
        entity_type="case",
        entity_id=case.id,
        dealer_id=dealer_id,
        changes={"priority": [None, case.priority], "owner_id": [None, case.owner_id]},
    )
    if case.customer_id:
        add_timeline(
            session,
            customer_id=case.customer_id,
            kind="case.opened",
            summary=f"客诉/反馈工单：{title}",
            actor=subject,
            dealer_id=dealer_id,
            detail={"case_id": case.id, "category": case.category, "severity": case.severity},
        )
    _notify(session, case, case.owner_id, "case.assigned")
    return case


# ---------------------------------------------------------------- the ladder, swept by the worker


@dataclass(frozen=True)
class _Climb:
    """A due case's move one rung up (``step`` None: no rung above), worked out before anything is written."""

    case: DueCase
    step: Step | None
    skipped: list[Step]
    new_due: datetime | None

    @property
    def level(self) -> int:
        return int(self.step.level) if self.step else self.case.escalation_level

    @property
    def owner_id(self) -> str | None:
        return self.step.holder.user_id if self.step and self.step.holder else self.case.owner_id


def escalate_due(session: Session, case_id: str, *, now: datetime) -> bool:
    """``escalate_due_cases`` for one case: whether this call acted."""
    return escalate_due_cases(session, [case_id], now=now) == 1


def escalate_due_cases(session: Session, case_ids: Collection[str], *, now: datetime) -> int:
    """The rungs' budgets ran out: move each due case one rung up, from the due time it saw.

    Each move is guarded on the level and deadline the case had, so a second worker or a retry changes
    nothing. The next due counts from this due (not from now), so a worker that was down climbs to the
    right rung, one rung per pass. Whatever its size, the batch costs one read per kind (the cases, the
    staff who may hold them, the policies), one executemany of the guarded UPDATE and one INSERT per
    table written. Returns how many cases moved.
    """
    repo = CaseRepository(session)
    cases = repo.due_for_escalation(case_ids, now=now) if case_ids else []
    if not cases:
        return 0
    staff = repo.ladder_staff_at({(case.dealer_id, case.region_id) for case in cases})
    policies = repo.policies_for({case.priority for case in cases})
    climbs = [
        _climb(session, case, staff.at[case.dealer_id, case.region_id], policies[case.priority])
        for case in cases
    ]
    moved = _move_all(session, climbs, now=now)
    if moved:
        _expire_loaded(session, moved)
        _record(session, moved, wecom=staff.wecom_userids, now=now)
    return len(moved)


def _climb(session: Session, case: DueCase, staff: list[StaffMember], policy: SlaPolicy) -> _Climb:
    steps = ladder(CasePlace(case.dealer_id, case.region_id, case.category), staff)
    step, skipped = next_step(steps, case.escalation_level, case.owner_id)
    new_due: datetime | None = None
    if step is not None:
        above, _ = next_step(steps, step.level, step.holder.user_id if step.holder else None)
        if above:
            hours = _hours(session, case.priority, case.dealer_id, policy)
            new_due = add_business_time(case.escalation_due_at, _budget(policy), hours)
    return _Climb(case, step, skipped, new_due)


_GUARDED_MOVE = (
    update(Case)
    .where(
        Case.id == bindparam("case_id"),
        Case.escalation_level == bindparam("from_level"),
        Case.escalation_due_at == bindparam("from_due"),
        Case.status == CaseStatus.OPEN,
    )
    .values(
        escalation_level=bindparam("to_level"),
        owner_id=bindparam("to_owner"),
        held_since=bindparam("to_held_since"),
        escalation_due_at=bindparam("to_due"),
        claimed_by=None,
        claimed_until=None,
        updated_at=bindparam("now"),
    )
)
"""Built once, run with one set of parameters per case."""


def _move_all(session: Session, climbs: list[_Climb], *, now: datetime) -> list[_Climb]:
    """The guarded state changes, in one executemany: each case moves only if it still has the level and
    due it was read with. In the sweep every case has (its claim holds it), so all move at once; should
    one have moved meanwhile, the attempt is rolled back and each case tried alone, to learn which."""
    if len(climbs) > 1:
        attempt = session.begin_nested()
        if _execute_moves(session, climbs, now=now) == len(climbs):
            attempt.commit()
            return climbs
        attempt.rollback()
    return [climb for climb in climbs if _execute_moves(session, [climb], now=now) == 1]


def _execute_moves(session: Session, climbs: list[_Climb], *, now: datetime) -> int:
    """How many of ``climbs`` moved (a DBAPI executemany reports the sum on SQLite and PostgreSQL)."""
    params = [
        {
            "case_id": climb.case.id,
            "from_level": climb.case.escalation_level,
            "from_due": climb.case.escalation_due_at,
            "to_level": climb.level,
            "to_owner": climb.owner_id,
            "to_held_since": climb.case.escalation_due_at if climb.step else climb.case.held_since,
            "to_due": climb.new_due,
            "now": now,
        }
        for climb in climbs
    ]
    return session.connection().execute(_GUARDED_MOVE, params).rowcount


def _expire_loaded(session: Session, moved: list[_Climb]) -> None:
    """The moves were written with Core, around the ORM: a copy of a case loaded in this session is stale."""
    for climb in moved:
        loaded = session.identity_map.get(identity_key(Case, climb.case.id))
        if loaded is not None:
            session.expire(loaded)


def _record(session: Session, moved: list[_Climb], *, wecom: dict[str, str | None], now: datetime) -> None:
    """The moves' history and the customers' timelines, one INSERT each; then the new holders are told."""
    _insert_all(session, CaseHistory, [row for climb in moved for row in _history_rows(climb, now=now)])
    climbed = [climb for climb in moved if climb.step is not None]
    timeline = [_timeline_row(climb) for climb in climbed if climb.case.customer_id]
    if timeline:
        _insert_all(session, TimelineEvent, timeline)
    if climbed:
        _tell(session, climbed, wecom=wecom)


def _tell(session: Session, climbed: list[_Climb], *, wecom: dict[str, str | None]) -> None:
    """As ``_notify`` does for one case: a live event to each new holder (a user, so in ``wecom``), and a
    WeCom message to those with a WeCom id; one INSERT for the events and one for the messages."""
    told = [
        (owner, _notice(climb))
        for climb in climbed
        if (owner := climb.owner_id) is not None and owner in wecom
    ]
    if not told:
        return
    at = clock.now()
    _insert_all(
        session,
        Event,
        [
            {"type": "case.escalated", "recipient_id": owner, "payload": notice.payload(), "at": at}
            for owner, notice in told
        ],
    )
    remember_recipients(session, {owner for owner, _ in told})
    messages = [
        {
            "topic": WECOM_TOPIC,
            "payload": notice.wecom_message("case.escalated", wecom_userid),
            "due_at": at,
            "created_at": at,
        }
        for owner, notice in told
        if (wecom_userid := wecom[owner])
    ]
    if messages:
        _insert_all(session, OutboxMessage, messages)


def _insert_all(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """One INSERT for all ``rows`` (all with the same keys), with Core: the rows are plain data."""
    session.connection().execute(insert(model), rows)


def _notice(climb: _Climb) -> _Notice:
    case = climb.case
    return _Notice(case.id, case.title, case.priority, climb.level, climb.new_due)


def _history_rows(climb: _Climb, *, now: datetime) -> list[dict[str, Any]]:
    case, due = climb.case, climb.case.escalation_due_at
    rows = [
        _history_row(case.id, "skipped", due, int(step.level), f"{step.name}: {_why_skipped(step)}")
        for step in climb.skipped
    ]
    if climb.step is None:
        note = "no rung above; the holder keeps the case"
        return [*rows, _history_row(case.id, "top", due, case.escalation_level, note)]
    late = int((now - due).total_seconds())
    note = f"{RUNG_NAMES[Rung(case.escalation_level)]} → {RUNG_NAMES[Rung(climb.level)]}" + (
        f"; swept {late}s late" if late > 0 else ""
    )
    escalated = _history_row(
        case.id,
        "escalated",
        due,
        climb.level,
        note,
        from_owner=case.owner_id,
        to_owner=climb.owner_id,
        held_seconds=int((due - case.held_since).total_seconds()),
    )
    return [*rows, escalated]


def _history_row(
    case_id: str,
    kind: str,
    at: datetime,
    level: int,
    note: str,
    *,
    from_owner: str | None = None,
    to_owner: str | None = None,
    held_seconds: int | None = None,
) -> dict[str, Any]:
    """A ``CaseHistory`` row for a bulk INSERT; the worker is no actor."""
    return {
        "case_id": case_id,
        "at": at,
        "kind": kind,
        "level": level,
        "note": note,
        "from_owner_id": from_owner,
        "to_owner_id": to_owner,
        "actor_id": None,
        "held_seconds": held_seconds,
    }


def _timeline_row(climb: _Climb) -> dict[str, Any]:
    return {
        "customer_id": climb.case.customer_id,
        "kind": "case.escalated",
        "summary": f"工单超时升级至{RUNG_LABELS_ZH[Rung(climb.level)]}",
        "detail": {"case_id": climb.case.id, "level": climb.level},
        "dealer_id": climb.case.dealer_id,
        "actor_id": None,
        "at": clock.now(),
    }


# ---------------------------------------------------------------- pause, resume, resolve


def change_status(session: Session, subject: AuthSubject, case: Case, *, data: CaseStatusChange) -> Case:
    """Waiting for the customer stops the clock (the rest of the rung's budget is kept); open restarts it;
    resolved stops it for good."""
    subject.require(Permission.CASES_WORK)
    current, target = CaseStatus(case.status), CaseStatus(data.status)
    if current == target:
        return case
    if target is CaseStatus.RESOLVED and not data.note:
        raise InvalidInput("note", "say how the case was resolved")
    policy = CaseRepository(session).policy(case.priority)
    hours = hours_for(session, case, policy)
    now = clock.now()
    held = int((now - case.held_since).total_seconds())
    if target is CaseStatus.WAITING_CUSTOMER:
        if current is CaseStatus.RESOLVED:
            raise InvalidInput("status", "reopen a resolved case before waiting on the customer")
        due = case.escalation_due_at
        case.paused_remaining_seconds = (
            int(business_time_between(now, due, hours).total_seconds()) if due is not None else None
        )
        case.escalation_due_at = None
        note = f"clock paused, {case.paused_remaining_seconds}s left" if due else "clock paused"
    elif target is CaseStatus.OPEN:
        remaining = (
            timedelta(seconds=case.paused_remaining_seconds)
            if current is CaseStatus.WAITING_CUSTOMER and case.paused_remaining_seconds is not None
            else _budget(policy)
        )
        at_top = case.escalation_level == Rung.CEO or (
            current is CaseStatus.WAITING_CUSTOMER and case.paused_remaining_seconds is None
        )
        case.escalation_due_at = None if at_top else add_business_time(now, remaining, hours)
        case.paused_remaining_seconds = None
        case.resolved_at = case.resolution = None
        note = "clock resumed" if current is CaseStatus.WAITING_CUSTOMER else "reopened"
    else:
        case.escalation_due_at = None
        case.paused_remaining_seconds = None
        case.resolved_at = now
        case.resolution = data.note
        note = data.note or ""
    case.status = target.value
    case.updated_at = now
    case.first_responded_at = case.first_responded_at or now
    kind = {CaseStatus.WAITING_CUSTOMER: "paused", CaseStatus.RESOLVED: "resolved"}.get(
        target, "resumed" if current is CaseStatus.WAITING_CUSTOMER else "reopened"
    )
    _history(
        session,
        case,
        kind,
        at=now,
        level=case.escalation_level,
        from_owner=case.owner_id,
        to_owner=case.owner_id,
        actor=subject,
        note=note,
        held_seconds=held if target is CaseStatus.RESOLVED else None,
    )
    audit.record(
        session,
        subject,
        action="case.status",
        entity_type="case",
        entity_id=case.id,
        dealer_id=case.dealer_id,
        changes={"status": [current.value, target.value]},
    )
    if target is CaseStatus.RESOLVED:
        send_survey(session, case)  # once per case: a reopened case resolved again is not asked twice
    session.flush()
    return case


def add_note(session: Session, subject: AuthSubject, case: Case, *, data: CaseNote) -> Case:
    """Work on the case, written down. A note that answered the customer starts the first-response clock's
    record; the escalation clock is not touched (only resolving stops it)."""
    subject.require(Permission.CASES_WORK)
    now = clock.now()
    kind = "responded" if data.contacted_customer else "note"
    if data.contacted_customer and case.first_responded_at is None:
        case.first_responded_at = now
    case.updated_at = now
    _history(session, case, kind, at=now, level=case.escalation_level, actor=subject, note=data.note)
    audit.record(
        session,
        subject,
        action=f"case.{kind}",
        entity_type="case",
        entity_id=case.id,
        dealer_id=case.dealer_id,
        changes={"note": [None, data.note]},
    )
    session.flush()
    return case


# ---------------------------------------------------------------- SLA policies


def update_policy(
    session: Session, subject: AuthSubject, priority: Priority, *, data: SlaPolicyUpdate
) -> SlaPolicy:
    """New budgets apply to deadlines set from now on; running clocks keep the due they have."""
    subject.require(Permission.CASES_CONFIGURE)
    policy = CaseRepository(session).policy(priority.value)
    before = {
        name: getattr(policy, name)
        for name in ("first_response_seconds", "resolution_seconds", "escalation_seconds", "business_hours")
    }
    for name, value in data.model_dump().items():
        setattr(policy, name, value)
    policy.updated_at = clock.now()
    changes = audit.diff(before, data.model_dump())
    if changes:
        audit.record(
            session,
            subject,
            action="sla_policy.update",
            entity_type="sla_policy",
            entity_id=priority.value,
            changes=changes,
        )
    session.flush()
    return policy
