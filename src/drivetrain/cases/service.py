"""Case intake, the escalation clock (pause, resume, resolve) and SLA policies. No HTTP, no commit."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.classify import Severity, classify
from drivetrain.cases.classify.symptoms import symptom_of
from drivetrain.cases.classify.text import normalize_text
from drivetrain.cases.csat.service import send_survey
from drivetrain.cases.ladder import RUNG_NAMES, CasePlace, Step, first_step, ladder, next_step, why_skipped
from drivetrain.cases.models import Case, CaseHistory, CaseStatus, CaseType, Priority, Rung, SlaPolicy
from drivetrain.cases.notices import WECOM_TOPIC, Notice, stored_text
from drivetrain.cases.repository import CaseRepository
from drivetrain.cases.schemas import CaseCreate, CaseNote, CaseStatusChange, SlaPolicyUpdate
from drivetrain.customers.models import Customer, Vehicle
from drivetrain.customers.repository import CustomerFilter, CustomerRepository, VehicleRepository
from drivetrain.customers.service import add_timeline
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.calendar import WorkingHours, add_business_time, business_time_between
from drivetrain.kit.errors import InvalidInput, NotFound
from drivetrain.org import directory
from drivetrain.org.models import Dealer
from drivetrain.org.repository import DealerRepository

TITLE_LENGTH = 40


# ---------------------------------------------------------------- clock arithmetic


def hours_for(session: Session, case: Case, policy: SlaPolicy) -> WorkingHours | None:
    """The calendar a case's budgets run on: the dealer's opening hours, or 24x7 (critical always is)."""
    return working_hours(session, case.priority, case.dealer_id, policy)


def working_hours(
    session: Session, priority: str, dealer_id: str | None, policy: SlaPolicy
) -> WorkingHours | None:
    """``hours_for`` from a case's priority and dealer, for the sweep, which reads no ``Case`` objects."""
    if priority == Priority.CRITICAL or not policy.business_hours or dealer_id is None:
        return None
    return directory.working_hours(session, dealer_id)


def budget(policy: SlaPolicy) -> timedelta:
    """A rung's escalation budget."""
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
            session, case, "skipped", at=at, level=int(step.level), note=f"{step.name}: {why_skipped(step)}"
        )


def _notify(session: Session, case: Case, owner_id: str | None, event_type: str) -> None:
    owner = session.get(User, owner_id) if owner_id else None
    if owner is None:
        return
    notice = Notice(case.id, case.title, case.priority, case.escalation_level, case.escalation_due_at)
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
    dealer = _dealer_of(session, subject, data.dealer_code)
    vehicle = _vehicle_of(session, subject, data)
    customer = _customer_of(session, subject, data, vehicle)
    dealer_id = dealer.id if dealer else (customer.dealer_id if customer else None) or subject.dealer_id
    if dealer_id is None and not subject.is_hq:
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
    case.escalation_due_at = add_business_time(now, budget(policy), hours) if above else None
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
            summary=stored_text("cases.stored.timeline.opened", title=title),
            actor=subject,
            dealer_id=dealer_id,
            detail={"case_id": case.id, "category": case.category, "severity": case.severity},
        )
    _notify(session, case, case.owner_id, "case.assigned")
    return case


# ---------------------------------------------------------------- pause, resume, resolve


def change_status(session: Session, subject: AuthSubject, case: Case, *, data: CaseStatusChange) -> Case:
    """Waiting for the customer stops the clock (the rest of the rung's budget is kept); open restarts it;
    resolved stops it for good."""
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
            else budget(policy)
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
