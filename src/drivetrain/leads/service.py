"""Lead capture, routing, assignment, pipeline and first-contact SLA. No HTTP, no commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.models import User
from drivetrain.auth.roles import Permission, Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import ConsentChannel, ConsentPurpose, ConsentStatus, Customer, Vehicle
from drivetrain.customers.repository import CustomerFilter, CustomerRepository
from drivetrain.customers.schemas import ConsentIn, CustomerCreate
from drivetrain.customers.service import add_timeline, create_customer, record_consent
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.address import coordinates_of, parse_address
from drivetrain.kit.calendar import WorkingHours, add_business_time
from drivetrain.kit.errors import Conflict, InvalidInput, NotFound
from drivetrain.kit.geo import nearest
from drivetrain.kit.idempotency import remember, replayed
from drivetrain.leads import directory, routing
from drivetrain.leads.models import (
    ConsultantDuty,
    DealerLeadState,
    FollowUpTask,
    Lead,
    LeadHistory,
    LeadSettings,
    LeadTouch,
    Stage,
)
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadCreate, LeadSettingsUpdate, Reassignment, StageChange
from drivetrain.org.models import Brand, Series
from drivetrain.org.repository import DealerRepository, StaffRepository

WECOM_TOPIC = "wecom.app_message"
CHINA_TZ = ZoneInfo("Asia/Shanghai")
STAGE_LABELS_ZH = {
    Stage.NEW: "新线索",
    Stage.CONTACTED: "已联系",
    Stage.TEST_DRIVE_SCHEDULED: "已约试驾",
    Stage.TEST_DRIVE_DONE: "已试驾",
    Stage.NEGOTIATING: "洽谈中",
    Stage.ORDERED: "已下单",
    Stage.WON: "已成交",
    Stage.LOST: "战败",
}
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


@dataclass(frozen=True)
class Capture:
    lead: Lead
    deduplicated: bool = False


# ---------------------------------------------------------------- capture


def capture(
    session: Session, subject: AuthSubject, *, data: LeadCreate, idempotency_key: str | None = None
) -> Capture:
    """One flow for every channel: dedupe, attach to the customer, route, notify, start the SLA clock."""
    subject.require(Permission.LEADS_CAPTURE)
    repo = LeadRepository(session)
    if idempotency_key and (earlier := replayed(session, subject, "lead.capture", idempotency_key, data)):
        return Capture(repo.get(subject, earlier))
    if data.source_ref and (same := repo.by_source_ref(data.channel, data.source_ref)) is not None:
        return Capture(same)
    series = _series(session, data.series, data.brand)
    settings = repo.settings()
    customer = _customer_for(session, subject, data)
    since = clock.now() - timedelta(days=settings.dedupe_window_days)
    open_lead = repo.open_lead_of(customer.id, series.id, since=since)
    if open_lead is not None:
        _touch(session, open_lead, data)
        _history(session, open_lead, "touch", to_value=data.channel, actor=subject, reason=data.campaign)
        add_timeline(
            session,
            customer_id=customer.id,
            kind="lead.touch",
            summary=f"再次咨询：{series.name}（{data.channel}）",
            actor=subject,
            dealer_id=open_lead.dealer_id,
            detail={"lead_id": open_lead.id, "campaign": data.campaign},
        )
        _remember(session, subject, idempotency_key, data, open_lead.id)
        return Capture(open_lead, deduplicated=True)
    lead = _insert(session, customer, series, data)
    if lead is None:  # a concurrent request with the same channel + source_ref won the race
        raced = repo.by_source_ref(data.channel, data.source_ref or "")
        if raced is None:
            raise Conflict("a lead with this source_ref is being captured; retry")
        return Capture(raced)
    _touch(session, lead, data)
    _route(session, subject, lead, customer, data, settings)
    _log_step(
        session,
        subject,
        lead,
        kind="lead.captured",
        summary=f"线索：{series.name}（{data.channel}）",
        detail={"campaign": data.campaign},
        action="lead.capture",
        changes={"channel": [None, data.channel], "dealer_id": [None, lead.dealer_id]},
    )
    _remember(session, subject, idempotency_key, data, lead.id)
    return Capture(lead)


def _log_step(
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


def _remember(
    session: Session, subject: AuthSubject, key: str | None, data: LeadCreate, lead_id: str
) -> None:
    if key:
        remember(session, subject, "lead.capture", key, data, lead_id)


def _series(session: Session, name: str, brand_name: str | None) -> Series:
    stmt = select(Series).where((Series.name == name) | (Series.name_en == name))
    if brand_name:
        stmt = stmt.join(Brand, Brand.id == Series.brand_id).where(Brand.name == brand_name)
    series = session.scalars(stmt).first()
    if series is None:
        raise InvalidInput(
            "series", f"unknown series {name}" + (f" of brand {brand_name}" if brand_name else "")
        )
    return series


def _customer_for(session: Session, subject: AuthSubject, data: LeadCreate) -> Customer:
    """The known customer with this mobile, or a new prospect.

    HQ-level capture matches across the whole network; dealer staff only match customers they may
    see, so a phone number never reveals another dealer's customer.
    """
    customers = CustomerRepository(session)
    if subject.scope is Scope.ALL:
        customer = customers.by_mobile(data.phone)
    else:
        found = customers.search(subject, CustomerFilter(phone=data.phone), cursor=None, limit=1)
        customer = found[0] if found else None
    if customer is None:
        consents = []
        if data.consent_marketing is not None:
            status = ConsentStatus.GRANTED if data.consent_marketing else ConsentStatus.WITHDRAWN
            consents.append(
                ConsentIn(
                    purpose=ConsentPurpose.MARKETING,
                    channel=ConsentChannel.ANY,
                    status=status,
                    source=f"lead:{data.channel}",
                )
            )
        prospect = CustomerCreate(
            name=data.name,
            phone=data.phone,
            address=data.address,
            consents=consents,
            source=f"lead:{data.channel}",
        )
        return create_customer(session, subject, data=prospect)
    if data.consent_marketing is not None:
        status = ConsentStatus.GRANTED if data.consent_marketing else ConsentStatus.WITHDRAWN
        record_consent(
            session,
            subject,
            customer,
            ConsentIn(
                purpose=ConsentPurpose.MARKETING,
                channel=ConsentChannel.ANY,
                status=status,
                source=f"lead:{data.channel}",
            ),
        )
    return customer


def _insert(session: Session, customer: Customer, series: Series, data: LeadCreate) -> Lead | None:
    lead = Lead(
        customer_id=customer.id,
        brand_id=series.brand_id,
        series_id=series.id,
        channel=data.channel,
        campaign=data.campaign,
        source_ref=data.source_ref,
        note=data.note,
        stage=Stage.NEW,
        routing={},
    )
    try:
        with session.begin_nested():
            session.add(lead)
    except IntegrityError:
        return None
    return lead


def _touch(session: Session, lead: Lead, data: LeadCreate) -> None:
    session.add(
        LeadTouch(
            lead_id=lead.id,
            at=clock.now(),
            channel=data.channel,
            campaign=data.campaign,
            click_id=data.click_id,
            source_ref=data.source_ref,
            utm=data.utm or {},
            note=data.note,
        )
    )


def _history(
    session: Session,
    lead: Lead,
    kind: str,
    *,
    from_value: str | None = None,
    to_value: str | None = None,
    actor: AuthSubject | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        LeadHistory(
            lead_id=lead.id,
            at=clock.now(),
            kind=kind,
            from_value=from_value,
            to_value=to_value,
            actor_id=actor.user_id if actor and actor.user_id else None,
            reason=reason,
        )
    )


# ---------------------------------------------------------------- routing


def _location(data: LeadCreate, customer: Customer) -> tuple[tuple[float, float] | None, str | None]:
    """Coordinates of the lead's district (or city), from the address it gave, else the customer's."""
    text = data.address or data.city or customer.address
    if not text:
        return None, None
    place = parse_address(text)
    if not place.adcode:
        return None, None
    label = "".join(p for p in (place.city, place.district) if p) or place.province
    return coordinates_of(place.adcode), label


def _relationship(session: Session, customer: Customer) -> tuple[str, ...]:
    """The customer's servicing dealers first, then selling dealers, then the owning dealer."""
    cars = session.execute(
        select(Vehicle.servicing_dealer_id, Vehicle.selling_dealer_id).where(Vehicle.owner_id == customer.id)
    ).all()
    ordered = [d for d, _ in cars] + [d for _, d in cars] + [customer.dealer_id]
    return tuple(dict.fromkeys(d for d in ordered if d))


def _candidates(
    session: Session, facts: routing.LeadFacts, policy: routing.RoutingPolicy
) -> list[routing.DealerCandidate]:
    """Only dealers routing could choose: relationship ones, those in the radius, the nearest one's region."""
    network = directory.dealers(session)
    wanted = set(facts.relationship_dealer_ids) & network.keys()
    if facts.location is not None:
        located = [d for d in network.values() if d.latitude is not None and d.longitude is not None]
        near = nearest(facts.location, located, key=lambda d: (d.latitude, d.longitude))  # type: ignore[arg-type, return-value]
        wanted |= {d.dealer_id for d, km in near if km <= policy.radius_km}
        if near:
            region = near[0][0].region
            wanted |= {d.dealer_id for d in network.values() if d.region == region}
    ids = sorted(wanted)
    repo = LeadRepository(session)
    loads, states = repo.open_counts_by_dealer(ids), repo.dealer_states(ids)
    return [
        routing.DealerCandidate(
            dealer_id=i,
            code=network[i].code,
            name=network[i].name,
            region=network[i].region,
            latitude=network[i].latitude,
            longitude=network[i].longitude,
            brands=network[i].brands,
            open_leads=loads.get(i, 0),
            capacity=states[i].capacity if i in states else None,
            accepting=states[i].accepting if i in states else True,
        )
        for i in ids
    ]


def policy_of(settings: LeadSettings) -> routing.RoutingPolicy:
    return routing.RoutingPolicy(
        radius_km=settings.radius_km,
        max_candidates=settings.max_candidates,
        load_weight_km=settings.load_weight_km,
        default_capacity=settings.default_capacity,
    )


def _explain(reasons: list[routing.Reason]) -> list[dict[str, Any]]:
    return [{"code": r.code, "zh": r.text_zh, "en": r.text_en, "data": r.data} for r in reasons]


def _next_rotation(session: Session, dealer_id: str) -> int:
    state = session.get(DealerLeadState, dealer_id)
    if state is None:
        state = DealerLeadState(dealer_id=dealer_id, accepting=True, rotation=0)
        session.add(state)
    state.rotation += 1
    return state.rotation


def _own_consultant(
    session: Session, customer: Customer, dealer_id: str
) -> tuple[User, list[routing.Reason]] | None:
    """A returning customer goes back to the consultant who already looks after them, when on duty there."""
    if customer.consultant_id is None:
        return None
    user = session.get(User, customer.consultant_id)
    duty = session.get(ConsultantDuty, customer.consultant_id)
    if (
        user is None
        or user.dealer_id != dealer_id
        or not user.active
        or (duty is not None and not duty.on_duty)
    ):
        return None
    reason = routing.Reason(
        "relationship_consultant",
        f"老客户，回到其顾问 {user.username}",
        f"returning customer: back to {user.username}",
        {"username": user.username},
    )
    return user, [reason]


def _pick_consultant(
    session: Session, dealer_id: str, *, exclude: frozenset[str] = frozenset()
) -> tuple[User | None, list[routing.Reason]]:
    repo = LeadRepository(session)
    staff = repo.consultants_at(dealer_id)
    candidates = [
        routing.ConsultantCandidate(user_id=u.id, username=u.username, on_duty=on, open_leads=n, weight=w)
        for u, on, w, n in staff
    ]
    decision = routing.choose_consultant(
        candidates, rotation_index=_next_rotation(session, dealer_id), exclude=exclude
    )
    if decision.user_id is not None:
        return next(u for u, *_ in staff if u.id == decision.user_id), decision.reasons
    manager = repo.store_manager_of(dealer_id)
    if manager is not None and manager.id not in exclude:
        reason = routing.Reason(
            "store_manager",
            f"无人值班，交店总 {manager.username}",
            f"nobody on duty: store manager {manager.username}",
            {"username": manager.username},
        )
        return manager, [*decision.reasons, reason]
    return None, decision.reasons


def _route(
    session: Session,
    subject: AuthSubject,
    lead: Lead,
    customer: Customer,
    data: LeadCreate,
    settings: LeadSettings,
) -> None:
    if subject.scope in (Scope.DEALER, Scope.OWN) and subject.dealer_id:
        dealer_id: str | None = subject.dealer_id
        dealer_reasons = [
            routing.Reason("captured_at_dealer", "门店自录线索", "captured by the dealer itself", {})
        ]
    else:
        location, label = _location(data, customer)
        brand = session.get(Brand, lead.brand_id)
        facts = routing.LeadFacts(
            brand=brand.name if brand else "",
            location=location,
            location_label=label,
            relationship_dealer_ids=_relationship(session, customer),
            region_hint=None,
        )
        policy = policy_of(settings)
        decision = routing.choose_dealer(_candidates(session, facts, policy), facts, policy)
        dealer_id, dealer_reasons = decision.dealer_id, decision.reasons
    consultant, consultant_reasons = (None, [])
    if subject.scope is Scope.OWN:
        consultant = session.get(User, subject.user_id)
        consultant_reasons = [
            routing.Reason("captured_by_consultant", "顾问自录", "captured by the consultant", {})
        ]
    elif dealer_id is not None:
        consultant, consultant_reasons = _own_consultant(session, customer, dealer_id) or _pick_consultant(
            session, dealer_id
        )
    lead.routing = {"dealer": _explain(dealer_reasons), "consultant": _explain(consultant_reasons)}
    _assign(
        session,
        lead,
        dealer_id=dealer_id,
        consultant=consultant,
        settings=settings,
        actor=subject,
        kind="assigned",
    )
    if customer.dealer_id is None and dealer_id is not None:
        customer.dealer_id = dealer_id
        customer.consultant_id = consultant.id if consultant else None


def first_contact_due(
    session: Session, dealer_id: str, settings: LeadSettings, *, start: datetime
) -> datetime:
    """The SLA deadline, in the dealer's business time when the settings say so (kit.calendar)."""
    hours = None
    if settings.business_hours:
        dealer = directory.dealers(session).get(dealer_id)
        hours = WorkingHours.from_json(dealer.working_hours) if dealer else None
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
    _history(
        session, lead, kind, from_value=previous, to_value=lead.consultant_id, actor=actor, reason=reason
    )
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
        notify_assigned(session, lead, consultant)


def notify_assigned(session: Session, lead: Lead, consultant: User) -> None:
    series = session.get(Series, lead.series_id)
    customer = session.get(Customer, lead.customer_id)
    payload = {
        "lead_id": lead.id,
        "series": series.name if series else None,
        "customer": customer.name if customer else None,
        "channel": lead.channel,
        "due_at": lead.first_contact_due_at.isoformat() if lead.first_contact_due_at else None,
    }
    events.publish(session, "lead.assigned", recipients=[consultant.id], payload=payload)
    if consultant.wecom_userid:
        local_due = lead.first_contact_due_at.astimezone(CHINA_TZ) if lead.first_contact_due_at else None
        due = f"，请于 {local_due:%m-%d %H:%M} 前首次联系" if local_due else ""
        text = f"新线索：{payload['customer']}，意向 {payload['series']}（{lead.channel}）{due}"
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
    _history(
        session,
        lead,
        "stage",
        from_value=current.value,
        to_value=target.value,
        actor=subject,
        reason=data.lost_reason,
    )
    _log_step(
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
    _history(
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
        notify_assigned(session, lead, successor)
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
    _history(session, lead, "task", to_value=due_at.isoformat(), actor=subject, reason=note)
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
