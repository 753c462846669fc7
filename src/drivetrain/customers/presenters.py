"""Shape customers and vehicles for one subject: masked PII unless the role may see it, no N+1 lookups."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import ContactKind, Customer, Vehicle
from drivetrain.customers.repository import CustomerRepository, VehicleRepository
from drivetrain.customers.schemas import (
    ConsentRead,
    ContactPointRead,
    CustomerRead,
    CustomerSummary,
    OwnershipRead,
    VehicleRead,
    VehicleSummary,
)
from drivetrain.kit.masking import mask_address, mask_name, mask_tail
from drivetrain.kit.phone import mask_phone
from drivetrain.org.repository import StaffRepository


def _phone(value: str | None, reveal: bool) -> str | None:
    if value is None:
        return None
    return value if reveal else mask_phone(value)


def _contact_value(kind: str, value: str, reveal: bool) -> str:
    if reveal:
        return value
    return mask_phone(value) if kind == ContactKind.MOBILE else mask_tail(value)


def _address(customer: Customer, reveal: bool) -> str | None:
    if reveal or not customer.address:
        return customer.address
    if customer.district:  # keep the district, hide the street and number
        return f"{customer.province or ''}{customer.city or ''}{customer.district}****"
    return mask_address(customer.address)


def customer_summaries(
    session: Session, subject: AuthSubject, customers: list[Customer]
) -> list[CustomerSummary]:
    reveal = subject.can(Permission.PII_READ)
    repo = CustomerRepository(session)
    dealers = repo.dealer_labels({c.dealer_id for c in customers if c.dealer_id})
    consultants, consultant_names = StaffRepository(session).names(
        {c.consultant_id for c in customers if c.consultant_id}
    )
    return [
        CustomerSummary(
            id=c.id,
            name=c.name,
            phone=_phone(c.primary_phone, reveal),
            city=c.city,
            district=c.district,
            dealer_code=dealers[c.dealer_id][0] if c.dealer_id else None,
            dealer_name=dealers[c.dealer_id][1] if c.dealer_id else None,
            consultant=consultants.get(c.consultant_id) if c.consultant_id else None,
            consultant_name=consultant_names.get(c.consultant_id) if c.consultant_id else None,
            created_at=c.created_at,
        )
        for c in customers
    ]


def vehicle_summary(vehicle: Vehicle, series: dict[str, str]) -> VehicleSummary:
    return VehicleSummary(
        id=vehicle.id,
        vin=vehicle.vin,
        plate=vehicle.plate,
        series=series.get(vehicle.series_id) if vehicle.series_id else None,
        model_year=vehicle.model_year,
        purchase_date=vehicle.purchase_date,
        owner_id=vehicle.owner_id,
    )


def customer_detail(session: Session, subject: AuthSubject, customer: Customer) -> CustomerRead:
    reveal = subject.can(Permission.PII_READ)
    repo = CustomerRepository(session)
    summary = customer_summaries(session, subject, [customer])[0]
    vehicles_repo = VehicleRepository(session)
    vehicles = vehicles_repo.of_owners([customer.id])
    series = vehicles_repo.series_names({v.series_id for v in vehicles})
    return CustomerRead(
        **summary.model_dump(),
        gender=customer.gender,
        address=_address(customer, reveal),
        province=customer.province,
        adcode=customer.adcode,
        id_number=("*" * 14 + customer.id_number_last4) if customer.id_number_last4 else None,
        contact_points=[
            ContactPointRead(
                kind=ContactKind(p.kind),
                value=_contact_value(p.kind, p.value, reveal),
                is_primary=p.is_primary,
            )
            for p in sorted(customer.contact_points, key=lambda p: (p.kind, not p.is_primary, p.value))
        ],
        consents=[
            ConsentRead.model_validate(c, from_attributes=True) for c in repo.current_consents(customer.id)
        ],
        tags=repo.tags_of([customer.id]).get(customer.id, []),
        vehicles=[vehicle_summary(v, series) for v in vehicles],
        updated_at=customer.updated_at,
        masked=not reveal,
    )


def vehicle_detail(session: Session, vehicle: Vehicle) -> VehicleRead:
    return vehicle_details(session, [vehicle])[0]


def vehicle_details(session: Session, vehicles: Sequence[Vehicle]) -> list[VehicleRead]:
    """Vehicles with their brand, dealers and ownership history, in a fixed number of queries."""
    repo = VehicleRepository(session)
    series = repo.series_names({v.series_id for v in vehicles})
    dealers = CustomerRepository(session).dealer_labels(
        {d for v in vehicles for d in (v.selling_dealer_id, v.servicing_dealer_id) if d}
    )
    brands = repo.brand_names({v.brand_id for v in vehicles if v.brand_id})
    ownerships = repo.ownerships_of([v.id for v in vehicles])
    return [
        VehicleRead(
            **vehicle_summary(vehicle, series).model_dump(),
            brand=brands.get(vehicle.brand_id) if vehicle.brand_id else None,
            selling_dealer_code=dealers[vehicle.selling_dealer_id][0] if vehicle.selling_dealer_id else None,
            servicing_dealer_code=dealers[vehicle.servicing_dealer_id][0]
            if vehicle.servicing_dealer_id
            else None,
            mileage_km=vehicle.mileage_km,
            ownerships=[
                # Earlier owners may be another dealer's customers: show who, not their full name.
                OwnershipRead(
                    customer_id=o.customer_id,
                    customer_name=name if o.customer_id == vehicle.owner_id else mask_name(name),
                    started_on=o.started_on,
                    ended_on=o.ended_on,
                )
                for o, name in ownerships.get(vehicle.id, [])
            ],
            created_at=vehicle.created_at,
        )
        for vehicle in vehicles
    ]
