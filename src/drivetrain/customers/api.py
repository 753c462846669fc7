"""/api/v1/customers and /api/v1/vehicles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.customers import service
from drivetrain.customers.auth import CustomerReader, CustomerWriter, VehicleReader, VehicleWriter
from drivetrain.customers.presenters import (
    customer_detail,
    customer_summaries,
    vehicle_detail,
    vehicle_summary,
)
from drivetrain.customers.repository import (
    GROUPS,
    OWN_SOURCE,
    CustomerFilter,
    CustomerRepository,
    TimelineFilter,
    VehicleRepository,
    timeline_position,
)
from drivetrain.customers.schemas import (
    ConsentIn,
    ConsentRead,
    CustomerCreate,
    CustomerRead,
    CustomerSummary,
    CustomerUpdate,
    OwnershipTransfer,
    TimelineEventRead,
    VehicleCreate,
    VehicleRead,
    VehicleSummary,
    VehicleUpdate,
)
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.phone import normalize_phone
from drivetrain.kit.plate import normalize_plate
from drivetrain.kit.validators import Text
from drivetrain.kit.vin import normalize_vin
from drivetrain.org.repository import DealerRepository, StaffRepository
from drivetrain.sources.repository import SourceRepository

router = APIRouter(tags=["customers"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _normalised(field: str, value: str | None, normalise: Callable[[str], str]) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalise(value)
    except ValueError as error:
        raise InvalidInput(field, str(error)) from None


@router.get("/customers", summary="Search customers")
def list_customers(
    subject: CustomerReader,
    session: SessionDep,
    q: Annotated[
        Text | None, Query(max_length=60, description="Phone, VIN, plate or the start of a name")
    ] = None,
    phone: Annotated[Text | None, Query(max_length=30)] = None,
    vin: Annotated[Text | None, Query(max_length=30)] = None,
    plate: Annotated[Text | None, Query(max_length=20)] = None,
    dealer_code: Annotated[Text | None, Query(max_length=20)] = None,
    consultant: Annotated[Text | None, Query(max_length=60)] = None,
    city: Annotated[Text | None, Query(max_length=30)] = None,
    tag: Annotated[Text | None, Query(max_length=40)] = None,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Limit = 50,
) -> Page[CustomerSummary]:
    base = service.interpret_query(q) if q else CustomerFilter()
    filters = CustomerFilter(
        q=base.q,
        phone=_normalised("phone", phone, normalize_phone) or base.phone,
        vin=_normalised("vin", vin, normalize_vin) or base.vin,
        plate=_normalised("plate", plate, normalize_plate) or base.plate,
        dealer_id=DealerRepository(session).by_code(subject, dealer_code).id if dealer_code else None,
        consultant_id=StaffRepository(session).by_username(subject, consultant).id if consultant else None,
        city=city,
        tag=tag,
    )
    rows = CustomerRepository(session).search(subject, filters, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda c: c.id)
    return Page(items=customer_summaries(session, subject, items), next_cursor=next_cursor)


@router.post("/customers", status_code=201, summary="Create a customer")
def create_customer(
    body: CustomerCreate, subject: CustomerWriter, session: SessionDep, idempotency_key: IdempotencyKey = None
) -> CustomerRead:
    customer = service.create_customer(session, subject, data=body, idempotency_key=idempotency_key)
    return customer_detail(session, subject, CustomerRepository(session).get_readable(subject, customer.id))


@router.get("/customers/{customer_id}", summary="Customer 360 profile")
def get_customer(customer_id: str, subject: CustomerReader, session: SessionDep) -> CustomerRead:
    return customer_detail(session, subject, CustomerRepository(session).get_readable(subject, customer_id))


@router.patch("/customers/{customer_id}", summary="Update a customer")
def update_customer(
    customer_id: str, body: CustomerUpdate, subject: CustomerWriter, session: SessionDep
) -> CustomerRead:
    repo = CustomerRepository(session)
    service.update_customer(session, subject, repo.get_readable(subject, customer_id), data=body)
    return customer_detail(session, subject, repo.get_readable(subject, customer_id))


@router.post("/customers/{customer_id}/consents", status_code=201, summary="Record a consent decision")
def record_consent(
    customer_id: str, body: ConsentIn, subject: CustomerWriter, session: SessionDep
) -> ConsentRead:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    consent = service.record_consent(session, subject, customer, body)
    return ConsentRead.model_validate(consent, from_attributes=True)


@router.get("/customers/{customer_id}/consents", summary="Consent history, newest first")
def consent_history(customer_id: str, subject: CustomerReader, session: SessionDep) -> list[ConsentRead]:
    repo = CustomerRepository(session)
    customer = repo.get_readable(subject, customer_id)
    return [ConsentRead.model_validate(c, from_attributes=True) for c in repo.consent_history(customer.id)]


@router.get("/customers/{customer_id}/timeline", summary="Customer timeline, newest first")
def timeline(
    customer_id: str,
    subject: CustomerReader,
    session: SessionDep,
    kind: Annotated[list[Text] | None, Query(max_length=20)] = None,
    group: Annotated[
        list[Text] | None, Query(max_length=len(GROUPS), description=f"Any of: {', '.join(GROUPS)}")
    ] = None,
    source: Annotated[
        Text | None,
        Query(max_length=40, description=f"A source system's name, or {OWN_SOURCE} for Drivetrain's own"),
    ] = None,
    since: Annotated[date | None, Query(description="From this day (China time), included")] = None,
    until: Annotated[date | None, Query(description="To this day (China time), included")] = None,
    cursor: Annotated[Text | None, Query(max_length=120)] = None,
    limit: Limit = 50,
) -> Page[TimelineEventRead]:
    filters = TimelineFilter.checked(
        groups=group or [],
        source=source,
        since=since,
        until=until,
        records_of=SourceRepository(session).record_ids_named,
    )
    repo = CustomerRepository(session)
    customer = repo.get_readable(subject, customer_id)
    rows = repo.timeline(customer.id, kinds=kind, filters=filters, cursor=cursor, limit=limit)
    events, next_cursor = page_of(rows, limit=limit, id_of=timeline_position)
    dealers = repo.dealer_labels({e.dealer_id for e in events if e.dealer_id})
    return Page(
        items=[
            TimelineEventRead(
                id=e.id,
                at=e.at,
                kind=e.kind,
                summary=e.summary,
                detail=e.detail,
                dealer_code=dealers[e.dealer_id][0] if e.dealer_id else None,
            )
            for e in events
        ],
        next_cursor=next_cursor,
    )


@router.get("/vehicles", summary="Find vehicles by VIN or plate")
def list_vehicles(
    subject: VehicleReader,
    session: SessionDep,
    vin: Annotated[Text | None, Query(max_length=30)] = None,
    plate: Annotated[Text | None, Query(max_length=20)] = None,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Limit = 50,
) -> Page[VehicleSummary]:
    repo = VehicleRepository(session)
    rows = repo.search(
        subject,
        vin=_normalised("vin", vin, normalize_vin),
        plate=_normalised("plate", plate, normalize_plate),
        cursor=cursor,
        limit=limit,
    )
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda v: v.id)
    series = repo.series_names({v.series_id for v in items})
    return Page(items=[vehicle_summary(v, series) for v in items], next_cursor=next_cursor)


@router.post("/vehicles", status_code=201, summary="Register a vehicle")
def create_vehicle(
    body: VehicleCreate, subject: VehicleWriter, session: SessionDep, idempotency_key: IdempotencyKey = None
) -> VehicleRead:
    vehicle = service.register_vehicle(session, subject, data=body, idempotency_key=idempotency_key)
    return vehicle_detail(session, vehicle)


@router.get("/vehicles/{vehicle_id}", summary="A vehicle with its ownership history")
def get_vehicle(vehicle_id: str, subject: VehicleReader, session: SessionDep) -> VehicleRead:
    return vehicle_detail(session, VehicleRepository(session).get_readable(subject, vehicle_id))


@router.patch("/vehicles/{vehicle_id}", summary="Update plate, mileage or servicing dealer")
def update_vehicle(
    vehicle_id: str, body: VehicleUpdate, subject: VehicleWriter, session: SessionDep
) -> VehicleRead:
    vehicle = VehicleRepository(session).get_readable(subject, vehicle_id)
    return vehicle_detail(session, service.update_vehicle(session, subject, vehicle, data=body))


@router.post("/vehicles/{vehicle_id}/transfer", summary="Record a resale to another customer")
def transfer_vehicle(
    vehicle_id: str, body: OwnershipTransfer, subject: VehicleWriter, session: SessionDep
) -> VehicleRead:
    vehicle = VehicleRepository(session).get_readable(subject, vehicle_id)
    return vehicle_detail(session, service.transfer_vehicle(session, subject, vehicle, data=body))
