"""The customer detail routes are pinned in ``tests/customers/query_counts.json`` (``tests/query_budget.py``):
timeline, consents, a vehicle, the 360 page and the tags panel each run as many statements for one row
of their kind as for 25."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from drivetrain.customers import service as customers
from drivetrain.customers.models import ConsentPurpose, ConsentStatus, Customer, Vehicle
from drivetrain.customers.schemas import ConsentIn, OwnershipTransfer, VehicleCreate
from drivetrain.customers.segments import tags
from drivetrain.db import Database
from tests.query_budget import assert_within_budget, measure, signed_in
from tests.world import World, vin_for

Grow = Callable[[Session, World, range], None]


def _customer(session: Session, world: World) -> Customer:
    customer = session.get(Customer, world.customers["cust_a1"])
    assert customer is not None
    return customer


def _events(session: Session, world: World, numbers: range) -> None:
    for n in numbers:
        customers.add_timeline(
            session, customer_id=world.customers["cust_a1"], kind="customer.updated", summary=f"更新 {n}"
        )
    session.commit()


def _consents(session: Session, world: World, numbers: range) -> None:
    subject, customer = world.subject("hq_admin"), _customer(session, world)
    for n in numbers:
        status = ConsentStatus.GRANTED if n % 2 else ConsentStatus.WITHDRAWN
        consent = ConsentIn(purpose=ConsentPurpose.MARKETING, status=status, source=f"form-{n}")
        customers.record_consent(session, subject, customer, consent)
    session.commit()


def _owners(session: Session, world: World, numbers: range) -> None:
    """The A1 car changes hands back and forth: one more ownership a number."""
    subject = world.subject("hq_admin")
    vehicle = session.get(Vehicle, world.vehicles["cust_a1"])
    assert vehicle is not None
    for _ in numbers:
        other = "cust_a2" if vehicle.owner_id == world.customers["cust_a1"] else "cust_a1"
        transfer = OwnershipTransfer(customer_id=world.customers[other])
        customers.transfer_vehicle(session, subject, vehicle, data=transfer)
    session.commit()


def _vehicles(session: Session, world: World, numbers: range) -> None:
    subject = world.subject("hq_admin")
    for n in numbers:
        data = VehicleCreate(vin=vin_for(800 + n), customer_id=world.customers["cust_a1"])
        customers.register_vehicle(session, subject, data=data)


def _whole_profile(session: Session, world: World, numbers: range) -> None:
    """Everything the 360 page lists: cars, consents and timeline lines."""
    _vehicles(session, world, numbers)
    _consents(session, world, numbers)
    _events(session, world, numbers)


def _tags(session: Session, world: World, numbers: range) -> None:
    names = [f"标签{n}" for n in numbers]
    tags.add_manual_tags(session, world.subject("hq_admin"), _customer(session, world), names)
    session.commit()


REQUESTS: dict[str, tuple[str, str, Grow]] = {  # name: (api or console, path, growth)
    "GET /api/v1/customers/{customer_id}/timeline": (
        "api",
        "/api/v1/customers/{customer_id}/timeline",
        _events,
    ),
    "GET /api/v1/customers/{customer_id}/consents": (
        "api",
        "/api/v1/customers/{customer_id}/consents",
        _consents,
    ),
    "GET /api/v1/vehicles/{vehicle_id}": ("api", "/api/v1/vehicles/{vehicle_id}", _owners),
    "GET /customers/{customer_id}": ("console", "/customers/{customer_id}", _whole_profile),
    "GET /api/v1/customers/{customer_id}/segments": (
        "api",
        "/api/v1/customers/{customer_id}/segments",
        _tags,
    ),
    "GET /customers/{customer_id}/tags": ("console", "/customers/{customer_id}/tags", _tags),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_query_count_is_pinned_and_flat(name: str, db: Database, session: Session, world: World) -> None:
    kind, path, grow = REQUESTS[name]
    api, console = signed_in(session, world, "hq_admin")
    url = path.format(customer_id=world.customers["cust_a1"], vehicle_id=world.vehicles["cust_a1"])
    counts = measure(
        db, api if kind == "api" else console, url, lambda numbers: grow(session, world, numbers)
    )
    assert_within_budget("customers", name, counts)
