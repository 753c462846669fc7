"""db.add_new inside bulk_rows: new objects go in by Core at the block's end and read, and change,
like objects the session flushed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.customers.models import ContactKind, ContactPoint, Customer
from drivetrain.db import add_new, bulk_rows
from drivetrain.kit.ids import new_id


def _prospect(name: str, phone: str) -> tuple[Customer, ContactPoint]:
    customer = Customer(id=new_id(), name=name, contact_points=[])
    point = ContactPoint(customer_id=customer.id, kind=ContactKind.MOBILE, value=phone, is_primary=True)
    customer.contact_points.append(point)
    return customer, point


def test_new_objects_land_at_the_end_of_the_block_with_their_defaults(session: Session) -> None:
    with bulk_rows(session):
        customer, point = _prospect("钱多多", "+8619800000001")
        add_new(session, customer, point)
        assert session.get(Customer, customer.id) is None  # nothing written yet
    assert customer.created_at is not None and customer.provenance == {}  # Python defaults, on the object
    assert point.id and point.created_at is not None
    assert session.get(Customer, customer.id) is customer  # persistent, in the identity map
    session.expire_all()
    stored = session.scalars(select(ContactPoint).where(ContactPoint.customer_id == customer.id)).one()
    assert (stored.value, stored.is_primary) == ("+8619800000001", True)


def test_a_change_after_the_block_is_flushed_as_an_update(session: Session) -> None:
    with bulk_rows(session):
        customer, point = _prospect("钱多多", "+8619800000002")
        add_new(session, customer, point)
    customer.name = "钱二多"
    session.flush()
    session.expire_all()
    assert session.get(Customer, customer.id).name == "钱二多"  # type: ignore[union-attr]
    assert len(session.scalars(select(Customer).where(Customer.id == customer.id)).all()) == 1


def test_new_objects_are_not_written_when_the_block_fails(session: Session) -> None:
    customer, point = _prospect("钱多多", "+8619800000003")
    with pytest.raises(RuntimeError), bulk_rows(session):
        add_new(session, customer, point)
        raise RuntimeError("the batch failed")
    session.flush()
    assert session.get(Customer, customer.id) is None


def test_outside_the_block_it_is_an_ordinary_add(session: Session) -> None:
    customer, point = _prospect("钱多多", "+8619800000004")
    add_new(session, customer, point)
    assert customer in session.new and point in session.new
    session.flush()
    assert session.get(Customer, customer.id) is customer
