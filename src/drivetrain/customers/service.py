"""Customer and vehicle logic. No HTTP here and no commit: the request or the job commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.idempotency import remember, replayed
from drivetrain.auth.models import User
from drivetrain.auth.roles import Permission, Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.config import get_settings
from drivetrain.customers.models import (
    Consent,
    ContactKind,
    ContactPoint,
    Customer,
    Ownership,
    TimelineEvent,
    Vehicle,
)
from drivetrain.customers.repository import (
    CustomerFilter,
    CustomerRepository,
    TimelineRepository,
    VehicleRepository,
)
from drivetrain.customers.schemas import (
    ConsentIn,
    CustomerCreate,
    CustomerUpdate,
    OwnershipTransfer,
    VehicleCreate,
    VehicleUpdate,
)
from drivetrain.customers.segments import tags
from drivetrain.db import add_new, append_row
from drivetrain.kit import clock
from drivetrain.kit.address import parse_address
from drivetrain.kit.errors import Conflict, InvalidInput, NotFound
from drivetrain.kit.idcard import id_hash, last4
from drivetrain.kit.ids import new_id
from drivetrain.kit.phone import normalize_phone
from drivetrain.kit.plate import normalize_plate
from drivetrain.kit.vin import normalize_vin
from drivetrain.org.models import Dealer
from drivetrain.org.repository import DealerRepository, StaffRepository


def interpret_query(text: str) -> CustomerFilter:
    """One search box: a phone, a VIN, a plate, or else the start of a name."""
    text = text.strip()
    if not text:
        return CustomerFilter()
    for normalise, key in ((normalize_vin, "vin"), (normalize_plate, "plate"), (normalize_phone, "phone")):
        try:
            return CustomerFilter(**{key: normalise(text)})
        except ValueError:
            continue
    return CustomerFilter(q=text)


def add_timeline(
    session: Session,
    *,
    customer_id: str,
    kind: str,
    summary: str,
    actor: AuthSubject | None = None,
    dealer_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Other domains call this to put what happened on the customer's 360 timeline."""
    append_row(
        session,
        TimelineEvent,
        customer_id=customer_id,
        kind=kind,
        summary=summary,
        detail=detail or {},
        dealer_id=dealer_id,
        actor_id=actor.user_id if actor and actor.user_id else None,
        at=clock.now(),
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One line for a customer's timeline, as ``add_timeline`` takes it, for ``add_timeline_many``."""

    customer_id: str
    kind: str
    summary: str
    dealer_id: str | None = None
    actor_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def add_timeline_many(session: Session, entries: list[TimelineEntry]) -> None:
    """Many timeline lines in one INSERT: a sweep writing to dozens of customers' timelines at once."""
    if not entries:
        return
    at = clock.now()
    rows = [
        {
            "customer_id": e.customer_id,
            "kind": e.kind,
            "summary": e.summary,
            "detail": e.detail,
            "dealer_id": e.dealer_id,
            "actor_id": e.actor_id,
            "at": at,
        }
        for e in entries
    ]
    TimelineRepository(session).insert_many(rows)


@dataclass(frozen=True)
class TimelineChanges:
    """What a projection of source records changes on timelines: rows to insert (with their ids and
    ``source_record_id``), rows to rewrite (``id`` and the columns that change) and ids to delete."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.inserts) + len(self.updates) + len(self.deletes)


def replace_source_timeline(session: Session, changes: TimelineChanges) -> None:
    """Apply a chunk of ``sources.events``' projection in at most three statements: the events that
    source records put on timelines are kept in step with the records by their source."""
    timeline = TimelineRepository(session)
    timeline.delete_many(changes.deletes)
    timeline.insert_many(changes.inserts)
    timeline.replace_many(changes.updates)


def add_resolved_customers(session: Session, count: int, *, name: str) -> list[str]:
    """``count`` new HQ-held customers for clusters of source records nobody holds yet (identity
    resolution), in order; their golden records fill them in. Their ids, known before the flush."""
    customers = [Customer(id=new_id(), name=name, source="resolution", provenance={}) for _ in range(count)]
    session.add_all(customers)
    return [customer.id for customer in customers]


def contact_keys(session: Session, customer_id: str) -> set[tuple[str, str]]:
    """(kind, value) of each of the customer's contact points."""
    return CustomerRepository(session).contact_keys(customer_id)


def replace_contacts(
    session: Session, customer_id: str, *, remove: Sequence[tuple[str, str]], add: Sequence[tuple[str, str]]
) -> None:
    """Drop and add contact points by (kind, value): the golden record's identifiers follow the
    records that carry them (unify/golden.py)."""
    CustomerRepository(session).remove_contacts(customer_id, remove)
    session.add_all(ContactPoint(customer_id=customer_id, kind=kind, value=value) for kind, value in add)


def _dealer_for(
    session: Session, subject: AuthSubject, code: str | None, *, field: str = "dealer_code"
) -> Dealer | None:
    if code is None:
        return None
    try:
        return DealerRepository(session).by_code(subject, code)
    except NotFound:
        raise InvalidInput(field, f"no dealer with code {code}") from None


def _consultant_for(
    session: Session, subject: AuthSubject, username: str | None, dealer: Dealer | None
) -> User | None:
    if username is None:
        return None
    try:
        user = StaffRepository(session).by_username(subject, username)
    except NotFound:
        raise InvalidInput("consultant", f"no staff member {username}") from None
    if dealer is not None and user.dealer_id != dealer.id:
        raise InvalidInput("consultant", f"{username} does not work at dealer {dealer.code}")
    return user


def _placement(
    session: Session, subject: AuthSubject, dealer_code: str | None, consultant: str | None
) -> tuple[str | None, str | None]:
    """Owning dealer and consultant of a new customer. Dealer staff create for their own dealer."""
    dealer = _dealer_for(session, subject, dealer_code)
    if dealer is None and subject.dealer_id is not None:
        dealer = session.get(Dealer, subject.dealer_id)
    if dealer is None and not subject.is_hq:
        raise InvalidInput("dealer_code", "say which of your dealers holds this customer")
    user = _consultant_for(session, subject, consultant, dealer)
    if user is None and subject.scope is Scope.OWN:
        return (dealer.id if dealer else None), subject.user_id
    return (dealer.id if dealer else None), (user.id if user else None)


def _apply_address(customer: Customer, address: str | None) -> None:
    customer.address = address or None
    place = parse_address(address) if address else None
    customer.province = place.province if place else None
    customer.city = place.city if place else None
    customer.district = place.district if place else None
    customer.adcode = place.adcode if place else None


def _apply_id_number(customer: Customer, id_number: str | None) -> None:
    customer.id_number_hash = id_hash(id_number, get_settings().secret_key.encode()) if id_number else None
    customer.id_number_last4 = last4(id_number) if id_number else None


def _set_primary_phone(customer: Customer, phone: str) -> None:
    for point in customer.contact_points:
        if point.kind == ContactKind.MOBILE:
            point.is_primary = point.value == phone
    if not any(p.kind == ContactKind.MOBILE and p.value == phone for p in customer.contact_points):
        customer.contact_points.append(
            ContactPoint(customer_id=customer.id, kind=ContactKind.MOBILE, value=phone, is_primary=True)
        )
    customer.primary_phone = phone


def _add_contact(customer: Customer, kind: ContactKind, value: str | None) -> None:
    if value and not any(p.kind == kind and p.value == value for p in customer.contact_points):
        customer.contact_points.append(
            ContactPoint(customer_id=customer.id, kind=kind, value=value, is_primary=True)
        )


def _snapshot(customer: Customer) -> dict[str, Any]:
    fields = ("name", "primary_phone", "address", "gender", "dealer_id", "consultant_id", "id_number_hash")
    return {name: getattr(customer, name) for name in fields}


def create_customer(
    session: Session, subject: AuthSubject, *, data: CustomerCreate, idempotency_key: str | None = None
) -> Customer:
    """A new customer. Lead capture calls this too, under its own route's gate: the permission is
    checked here, for whoever asks."""
    subject.require(Permission.CUSTOMERS_WRITE)
    if idempotency_key and (earlier := replayed(session, subject, "customer.create", idempotency_key, data)):
        return CustomerRepository(session).get_readable(subject, earlier)
    dealer_id, consultant_id = _placement(session, subject, data.dealer_code, data.consultant)
    customer = Customer(
        id=new_id(),  # known before the flush, so callers can batch a whole capture into one flush
        name=data.name,
        gender=data.gender,
        dealer_id=dealer_id,
        consultant_id=consultant_id,
        source=data.source or subject.via,
        contact_points=[],
    )
    _apply_address(customer, data.address)
    _apply_id_number(customer, data.id_number)
    _set_primary_phone(customer, data.phone)
    _add_contact(customer, ContactKind.EMAIL, data.email)
    _add_contact(customer, ContactKind.WECHAT_UNIONID, data.wechat_unionid)
    _add_contact(customer, ContactKind.WECOM_EXTERNAL, data.wecom_external_userid)
    add_new(session, customer, *customer.contact_points)
    for consent in data.consents:
        record_consent(session, subject, customer, consent, audited=False)
    if data.tags:
        tags.add_manual_tags(session, subject, customer, data.tags, audited=False)
    add_timeline(
        session,
        customer_id=customer.id,
        kind="customer.created",
        summary="客户建档",
        actor=subject,
        dealer_id=dealer_id,
        detail={"source": customer.source},
    )
    audit.record(
        session,
        subject,
        action="customer.create",
        entity_type="customer",
        entity_id=customer.id,
        dealer_id=dealer_id,
        changes=audit.diff({}, _snapshot(customer)),
    )
    if idempotency_key:
        remember(session, subject, "customer.create", idempotency_key, data, customer.id)
    return customer


GOLDEN_FIELDS = frozenset({"name", "gender", "phone", "address", "id_number"})
"""The fields identity resolution's golden record keeps (see unify/golden.py)."""


def _claim_edited_fields(customer: Customer, sent: set[str]) -> None:
    """A field a person edits is theirs from now on: its source provenance goes, so the next
    resolution run weighs the edit as entered in Drivetrain rather than overwrite it."""
    edited = (sent & GOLDEN_FIELDS) & customer.provenance.keys()
    if edited:
        customer.provenance = {
            name: origin for name, origin in customer.provenance.items() if name not in edited
        }


def update_customer(
    session: Session, subject: AuthSubject, customer: Customer, *, data: CustomerUpdate
) -> Customer:
    before = _snapshot(customer)
    sent = data.model_fields_set
    if "name" in sent and data.name:
        customer.name = data.name
    if "gender" in sent:
        customer.gender = data.gender
    if "address" in sent:
        _apply_address(customer, data.address)
    if "id_number" in sent:
        _apply_id_number(customer, data.id_number)
    if "phone" in sent and data.phone:
        _set_primary_phone(customer, data.phone)
    if "email" in sent:
        _add_contact(customer, ContactKind.EMAIL, data.email)
    _claim_edited_fields(customer, sent)
    if "dealer_code" in sent or "consultant" in sent:
        dealer = _dealer_for(session, subject, data.dealer_code) if data.dealer_code else None
        dealer = dealer or (session.get(Dealer, customer.dealer_id) if customer.dealer_id else None)
        if "dealer_code" in sent and dealer is not None:
            customer.dealer_id = dealer.id
        if "consultant" in sent:
            user = _consultant_for(session, subject, data.consultant, dealer)
            customer.consultant_id = user.id if user else None
    changes = audit.diff(before, _snapshot(customer))
    if changes:
        customer.updated_at = clock.now()
        audit.record(
            session,
            subject,
            action="customer.update",
            entity_type="customer",
            entity_id=customer.id,
            dealer_id=customer.dealer_id,
            changes=changes,
        )
        add_timeline(
            session,
            customer_id=customer.id,
            kind="customer.updated",
            summary="资料更新：" + "、".join(sorted(changes)),
            actor=subject,
            dealer_id=customer.dealer_id,
        )
    session.flush()
    return customer


def record_consent(
    session: Session, subject: AuthSubject, customer: Customer, data: ConsentIn, *, audited: bool = True
) -> Consent:
    """A new decision row; earlier ones stay as history (PIPL: when and where consent changed). Lead
    capture records consents too, so the permission is checked here, for whoever asks."""
    subject.require(Permission.CUSTOMERS_WRITE)
    consent = Consent(
        customer_id=customer.id,
        purpose=data.purpose,
        channel=data.channel,
        status=data.status,
        source=data.source,
        recorded_by=subject.user_id or None,
        at=clock.now(),
    )
    session.add(consent)
    add_timeline(
        session,
        customer_id=customer.id,
        kind="consent." + data.status,
        summary=f"{data.purpose}/{data.channel}: {data.status}（{data.source}）",
        actor=subject,
        dealer_id=customer.dealer_id,
        detail={"purpose": str(data.purpose), "channel": str(data.channel), "source": data.source},
    )
    if audited:
        audit.record(
            session,
            subject,
            action="consent.record",
            entity_type="customer",
            entity_id=customer.id,
            dealer_id=customer.dealer_id,
            changes={f"consent.{data.purpose}.{data.channel}": [None, data.status]},
        )
    return consent


@dataclass(frozen=True)
class VehiclePlacement:
    brand_id: str | None
    series_id: str | None


def _series(session: Session, name: str | None) -> VehiclePlacement:
    if name is None:
        return VehiclePlacement(None, None)
    found = VehicleRepository(session).series_named(name)
    if found is None:
        raise InvalidInput("series", f"unknown series {name}")
    series_id, brand_id = found
    return VehiclePlacement(brand_id=brand_id, series_id=series_id)


def register_vehicle(
    session: Session, subject: AuthSubject, *, data: VehicleCreate, idempotency_key: str | None = None
) -> Vehicle:
    vehicles = VehicleRepository(session)
    if idempotency_key and (earlier := replayed(session, subject, "vehicle.create", idempotency_key, data)):
        return vehicles.get_readable(subject, earlier)
    if vehicles.by_vin(data.vin) is not None:
        raise Conflict(
            f"a vehicle with VIN {data.vin} is already registered",
        )
    if data.customer_id is None and not subject.is_hq:
        raise InvalidInput("customer_id", "a vehicle registered by a dealer needs its owner")
    owner = _customer_in_scope(session, subject, data.customer_id) if data.customer_id else None
    placement = _series(session, data.series)
    selling = _dealer_for(session, subject, data.selling_dealer_code, field="selling_dealer_code")
    servicing = _dealer_for(session, subject, data.servicing_dealer_code, field="servicing_dealer_code")
    vehicle = Vehicle(
        vin=data.vin,
        plate=data.plate,
        brand_id=placement.brand_id or _default_brand(session),
        series_id=placement.series_id,
        model_year=data.model_year,
        purchase_date=data.purchase_date,
        selling_dealer_id=selling.id if selling else (owner.dealer_id if owner else None),
        servicing_dealer_id=servicing.id if servicing else None,
        mileage_km=data.mileage_km,
        owner_id=owner.id if owner else None,
    )
    session.add(vehicle)
    session.flush()
    if owner is not None:
        session.add(
            Ownership(
                vehicle_id=vehicle.id,
                customer_id=owner.id,
                started_on=data.purchase_date or clock.now().date(),
            )
        )
        add_timeline(
            session,
            customer_id=owner.id,
            kind="vehicle.registered",
            summary=f"登记车辆 {data.vin}",
            actor=subject,
            dealer_id=owner.dealer_id,
            detail={"vehicle_id": vehicle.id, "plate": data.plate},
        )
    audit.record(
        session,
        subject,
        action="vehicle.create",
        entity_type="vehicle",
        entity_id=vehicle.id,
        dealer_id=owner.dealer_id if owner else None,
        changes={"vin": [None, data.vin], "owner_id": [None, vehicle.owner_id]},
    )
    if idempotency_key:
        remember(session, subject, "vehicle.create", idempotency_key, data, vehicle.id)
    return vehicle


def _customer_in_scope(session: Session, subject: AuthSubject, customer_id: str) -> Customer:
    try:
        return CustomerRepository(session).get_readable(subject, customer_id)
    except NotFound:
        raise InvalidInput("customer_id", "no such customer") from None


def _default_brand(session: Session) -> str | None:
    return VehicleRepository(session).first_brand_id()


def update_vehicle(
    session: Session, subject: AuthSubject, vehicle: Vehicle, *, data: VehicleUpdate
) -> Vehicle:
    before = {
        "plate": vehicle.plate,
        "mileage_km": vehicle.mileage_km,
        "servicing_dealer_id": vehicle.servicing_dealer_id,
    }
    sent = data.model_fields_set
    if "plate" in sent:
        vehicle.plate = data.plate
    if "mileage_km" in sent:
        if (
            data.mileage_km is not None
            and vehicle.mileage_km is not None
            and data.mileage_km < vehicle.mileage_km
        ):
            raise InvalidInput("mileage_km", f"odometer cannot go back (now {vehicle.mileage_km} km)")
        vehicle.mileage_km = data.mileage_km
    if "servicing_dealer_code" in sent:
        dealer = _dealer_for(session, subject, data.servicing_dealer_code, field="servicing_dealer_code")
        vehicle.servicing_dealer_id = dealer.id if dealer else None
    after = {
        "plate": vehicle.plate,
        "mileage_km": vehicle.mileage_km,
        "servicing_dealer_id": vehicle.servicing_dealer_id,
    }
    if changes := audit.diff(before, after):
        vehicle.updated_at = clock.now()
        owner = session.get(Customer, vehicle.owner_id) if vehicle.owner_id else None
        audit.record(
            session,
            subject,
            action="vehicle.update",
            entity_type="vehicle",
            entity_id=vehicle.id,
            dealer_id=owner.dealer_id if owner else None,
            changes=changes,
        )
    session.flush()
    return vehicle


def transfer_vehicle(
    session: Session, subject: AuthSubject, vehicle: Vehicle, *, data: OwnershipTransfer
) -> Vehicle:
    """Resale: close the current ownership and open a new one; both owners' timelines record it."""
    new_owner = _customer_in_scope(session, subject, data.customer_id)
    if new_owner.id == vehicle.owner_id:
        raise InvalidInput("customer_id", "this customer already owns the vehicle")
    on = data.on or clock.now().date()
    current = VehicleRepository(session).current_ownership(vehicle.id)
    if current is not None:
        if on < current.started_on:
            raise InvalidInput("on", f"the current ownership started on {current.started_on.isoformat()}")
        current.ended_on = on
        add_timeline(
            session,
            customer_id=current.customer_id,
            kind="vehicle.sold",
            summary=f"车辆 {vehicle.vin} 过户",
            actor=subject,
            detail={"vehicle_id": vehicle.id, "on": on.isoformat()},
        )
    session.add(Ownership(vehicle_id=vehicle.id, customer_id=new_owner.id, started_on=on))
    previous_owner = vehicle.owner_id
    vehicle.owner_id = new_owner.id
    add_timeline(
        session,
        customer_id=new_owner.id,
        kind="vehicle.acquired",
        summary=f"获得车辆 {vehicle.vin}",
        actor=subject,
        dealer_id=new_owner.dealer_id,
        detail={"vehicle_id": vehicle.id, "on": on.isoformat()},
    )
    audit.record(
        session,
        subject,
        action="vehicle.transfer",
        entity_type="vehicle",
        entity_id=vehicle.id,
        dealer_id=new_owner.dealer_id,
        changes={"owner_id": [previous_owner, new_owner.id]},
    )
    session.flush()
    return vehicle
