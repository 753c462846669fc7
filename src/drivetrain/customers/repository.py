"""All customer and vehicle queries. Every read starts from ``readable(subject)``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, not_, or_, select, update
from sqlalchemy.orm import selectinload

from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import (
    Consent,
    ContactKind,
    ContactPoint,
    Customer,
    CustomerTag,
    Ownership,
    Tag,
    TimelineEvent,
    Vehicle,
)
from drivetrain.kit.clock import CHINA_TZ
from drivetrain.kit.errors import InvalidInput, NotFound
from drivetrain.kit.ids import is_id
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Brand, Dealer, Series
from drivetrain.org.repository import scoped

TIMELINE_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sales": (("purchase",), ("lead.", "vehicle.")),
    "cases": ((), ("case.",)),
    "service": (("service_visit",), ()),
    "insurance": (("insurance_policy",), ()),
    "finance": (("finance_contract",), ()),
    "used_car": (("used_car_appraisal",), ()),
    "wecom": (("wecom_interaction",), ()),
}
"""Timeline filter groups: group -> (kinds, kind prefixes). "other" is every kind none of them holds."""
OTHER_GROUP = "other"
TIMELINE_DAYS = (date(1900, 1, 1), date(2999, 12, 31))
"""The days a timeline filter may name (beyond them, China midnight has no UTC time to compare with)."""
GROUPS = (*TIMELINE_GROUPS, OTHER_GROUP)
OWN_SOURCE = "_drivetrain"
"""The source filter for events recorded in Drivetrain itself (no source system's name: names are slugs)."""


@dataclass(frozen=True)
class CustomerFilter:
    q: str | None = None
    phone: str | None = None
    vin: str | None = None
    plate: str | None = None
    dealer_id: str | None = None
    consultant_id: str | None = None
    city: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class TimelineFilter:
    """Kinds or kind groups (any of them), one source system by name (or ``OWN_SOURCE``), and China days
    from ``since`` to ``until``, both included."""

    kinds: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    source: str | None = None
    since: date | None = None
    until: date | None = None
    source_records: Select[str] | None = None
    """The ids of the records of the source system named ``source``: customers knows no source
    system, so whoever names one (an edge module) asks ``sources`` for them (see ``checked``)."""

    @classmethod
    def checked(
        cls,
        *,
        groups: Sequence[str],
        source: str | None,
        since: date | None,
        until: date | None,
        records_of: Callable[[str], Select[str]],
    ) -> TimelineFilter:
        """Known groups only, and a day range that runs forward; ``records_of`` gives the ids of a
        source system's records by its name."""
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown:
            raise InvalidInput("group", f"unknown group {unknown[0]!r}; groups: {', '.join(GROUPS)}")
        for name, day in (("since", since), ("until", until)):
            if day is not None and not TIMELINE_DAYS[0] <= day <= TIMELINE_DAYS[1]:
                raise InvalidInput(name, f"a day from {TIMELINE_DAYS[0]} to {TIMELINE_DAYS[1]}")
        if since and until and until < since:
            raise InvalidInput("until", "the range ends before it starts")
        source = source or None
        records = records_of(source) if source and source != OWN_SOURCE else None
        return cls(groups=tuple(groups), source=source, since=since, until=until, source_records=records)


def china_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA_TZ).astimezone(UTC)


def timeline_position(event: TimelineEvent) -> str:
    """Where a page of the timeline ends (for ``page_of``'s ``id_of``): the time and the id."""
    return f"{event.at.astimezone(UTC).isoformat()}|{event.id}"


def _after_position(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        at_text, event_id = text.split("|")
        at = datetime.fromisoformat(at_text)
    except ValueError:  # also bad base64 (binascii.Error) and undecodable bytes
        raise InvalidInput("cursor", "not a cursor this API returned") from None
    if at.tzinfo is None or not is_id(event_id):
        raise InvalidInput("cursor", "not a cursor this API returned")
    return at, event_id


def _in_group(group: str) -> ColumnElement[bool]:
    if group == OTHER_GROUP:
        return not_(or_(*(_in_group(name) for name in TIMELINE_GROUPS)))
    kinds, prefixes = TIMELINE_GROUPS[group]
    return or_(
        TimelineEvent.kind.in_(kinds) if kinds else false(),
        *(TimelineEvent.kind.startswith(prefix, autoescape=True) for prefix in prefixes),
    )


class CustomerRepository(Repository[Customer]):
    model = Customer
    missing = "no such customer"

    def readable(self, subject: AuthSubject) -> Select[Customer]:
        return scoped(
            select(Customer), subject, dealer_col=Customer.dealer_id, owner_col=Customer.consultant_id
        )

    def get_readable(self, subject: AuthSubject, row_id: str) -> Customer:
        """With its contact points loaded: every caller shows or changes them, and they never load
        lazily (``lazy="raise"``)."""
        points = selectinload(Customer.contact_points)
        stmt = self.readable(subject).where(Customer.id == row_id).options(points)
        customer = self.session.scalar(stmt)
        if customer is None:
            raise NotFound(self.missing)
        return customer

    def search(
        self, subject: AuthSubject, filters: CustomerFilter, *, cursor: str | None, limit: int
    ) -> list[Customer]:
        """Newest first; ``limit + 1`` rows (see kit.pagination). A customer merged into another is
        found as the survivor, not again under the old record."""
        stmt = self.readable(subject).where(Customer.merged_into_id.is_(None))
        if filters.phone:
            stmt = stmt.where(
                Customer.id.in_(
                    select(ContactPoint.customer_id).where(
                        ContactPoint.kind == ContactKind.MOBILE, ContactPoint.value == filters.phone
                    )
                )
            )
        if filters.vin:
            stmt = stmt.where(Customer.id.in_(select(Vehicle.owner_id).where(Vehicle.vin == filters.vin)))
        if filters.plate:
            stmt = stmt.where(Customer.id.in_(select(Vehicle.owner_id).where(Vehicle.plate == filters.plate)))
        if filters.q:
            # Prefix range instead of LIKE, so the name index serves it on SQLite and PostgreSQL alike.
            stmt = stmt.where(Customer.name >= filters.q, Customer.name < filters.q + "\uffff")
        if filters.dealer_id:
            stmt = stmt.where(Customer.dealer_id == filters.dealer_id)
        if filters.consultant_id:
            stmt = stmt.where(Customer.consultant_id == filters.consultant_id)
        if filters.city:
            stmt = stmt.where(Customer.city == filters.city)
        if filters.tag:
            stmt = stmt.where(
                Customer.id.in_(
                    select(CustomerTag.customer_id)
                    .join(Tag, Tag.id == CustomerTag.tag_id)
                    .where(Tag.name == filters.tag)
                )
            )
        return list(self.session.scalars(keyset(stmt, Customer.id, cursor=cursor, limit=limit)))

    def by_mobiles(self, numbers: set[str]) -> dict[str, Customer]:
        """Identity lookup for capture and matching (system level, not a display read): per mobile
        number, its newest holder."""
        if not numbers:
            return {}
        stmt = (
            select(ContactPoint.value, Customer)
            .join(ContactPoint, ContactPoint.customer_id == Customer.id)
            .where(ContactPoint.kind == ContactKind.MOBILE, ContactPoint.value.in_(numbers))
            .order_by(Customer.id)
        )
        return {number: customer for number, customer in self.session.execute(stmt)}

    def contact_keys(self, customer_id: str) -> set[tuple[str, str]]:
        """(kind, value) of each of the customer's contact points."""
        stmt = select(ContactPoint.kind, ContactPoint.value).where(ContactPoint.customer_id == customer_id)
        return {(kind, value) for kind, value in self.session.execute(stmt)}

    def remove_contacts(self, customer_id: str, keys: Sequence[tuple[str, str]]) -> None:
        for kind, value in keys:
            self.session.execute(
                delete(ContactPoint).where(
                    ContactPoint.customer_id == customer_id,
                    ContactPoint.kind == kind,
                    ContactPoint.value == value,
                )
            )

    def count_at_dealer(self, subject: AuthSubject, dealer_id: str) -> int:
        stmt = self.readable(subject).where(Customer.dealer_id == dealer_id)
        return self.session.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0

    def current_consents(self, customer_id: str) -> list[Consent]:
        """The latest decision per purpose and channel (history stays in the table)."""
        rows = self.session.scalars(
            select(Consent)
            .where(Consent.customer_id == customer_id)
            .order_by(Consent.at.desc(), Consent.id.desc())
        )
        latest: dict[tuple[str, str], Consent] = {}
        for consent in rows:
            latest.setdefault((consent.purpose, consent.channel), consent)
        return sorted(latest.values(), key=lambda c: (c.purpose, c.channel))

    def consent_history(self, customer_id: str) -> list[Consent]:
        return list(
            self.session.scalars(
                select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.at.desc())
            )
        )

    def tags_of(self, customer_ids: list[str]) -> dict[str, list[str]]:
        rows = self.session.execute(
            select(CustomerTag.customer_id, Tag.name)
            .join(Tag, Tag.id == CustomerTag.tag_id)
            .where(CustomerTag.customer_id.in_(customer_ids))
            .order_by(Tag.name)
        )
        tags: dict[str, list[str]] = {}
        for customer_id, name in rows:
            tags.setdefault(customer_id, []).append(name)
        return tags

    def timeline(
        self,
        customer_id: str,
        *,
        kinds: list[str] | None = None,
        filters: TimelineFilter | None = None,
        cursor: str | None,
        limit: int,
    ) -> list[TimelineEvent]:
        """Newest first by when it happened (a purchase imported today sorts at its purchase date);
        ``limit + 1`` rows, paged by ``timeline_position``. The customer was read in scope already."""
        filters = filters or TimelineFilter()
        stmt = select(TimelineEvent).where(TimelineEvent.customer_id == customer_id)
        wanted = [*(kinds or ()), *filters.kinds]
        if wanted or filters.groups:
            kind_match = TimelineEvent.kind.in_(wanted) if wanted else false()
            stmt = stmt.where(or_(kind_match, *(_in_group(group) for group in filters.groups)))
        if filters.source == OWN_SOURCE:
            stmt = stmt.where(TimelineEvent.source_record_id.is_(None))
        elif filters.source_records is not None:
            stmt = stmt.where(TimelineEvent.source_record_id.in_(filters.source_records))
        if filters.since:
            stmt = stmt.where(TimelineEvent.at >= china_day_start(filters.since))
        if filters.until:
            stmt = stmt.where(TimelineEvent.at < china_day_start(filters.until + timedelta(days=1)))
        if cursor:
            at, event_id = _after_position(cursor)
            stmt = stmt.where(
                or_(TimelineEvent.at < at, and_(TimelineEvent.at == at, TimelineEvent.id < event_id))
            )
        stmt = stmt.order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc()).limit(limit + 1)
        return list(self.session.scalars(stmt))

    def dealer_labels(self, dealer_ids: set[str]) -> dict[str, tuple[str, str]]:
        """``{dealer_id: (code, name)}`` for display next to rows already read in scope."""
        if not dealer_ids:
            return {}
        rows = self.session.execute(
            select(Dealer.id, Dealer.code, Dealer.name).where(Dealer.id.in_(dealer_ids))
        )
        return {dealer_id: (code, name) for dealer_id, code, name in rows}


class TimelineRepository(Repository[TimelineEvent]):
    """Timeline lines are written by every domain through ``customers.service``; read through a
    readable customer (``CustomerRepository.timeline``)."""

    model = TimelineEvent

    def delete_many(self, ids: Sequence[str]) -> None:
        if ids:
            stmt = delete(TimelineEvent).where(TimelineEvent.id.in_(ids))
            self.session.execute(stmt, execution_options={"synchronize_session": False})

    def replace_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rewrite whole rows by id (each mapping holds ``id`` and the columns to set): one statement."""
        if rows:
            self.session.execute(update(TimelineEvent), list(rows))


class VehicleRepository(Repository[Vehicle]):
    model = Vehicle
    missing = "no such vehicle"

    def readable(self, subject: AuthSubject) -> Select[Vehicle]:
        """A car is visible to whoever may see its current owner; an unowned car to HQ only."""
        owners = CustomerRepository(self.session).readable(subject).with_only_columns(Customer.id)
        return (
            select(Vehicle).where(Vehicle.owner_id.in_(owners))
            if owners.whereclause is not None
            else select(Vehicle)
        )

    def search(
        self, subject: AuthSubject, *, vin: str | None, plate: str | None, cursor: str | None, limit: int
    ) -> list[Vehicle]:
        stmt = self.readable(subject)
        if vin:
            stmt = stmt.where(Vehicle.vin == vin)
        if plate:
            stmt = stmt.where(Vehicle.plate == plate)
        return list(self.session.scalars(keyset(stmt, Vehicle.id, cursor=cursor, limit=limit)))

    def of_owners(self, customer_ids: list[str]) -> list[Vehicle]:
        return list(
            self.session.scalars(
                select(Vehicle).where(Vehicle.owner_id.in_(customer_ids)).order_by(Vehicle.id)
            )
        )

    def by_vin(self, vin: str) -> Vehicle | None:
        """Existence check for uniqueness, not a read for display."""
        return self.session.scalar(select(Vehicle).where(Vehicle.vin == vin))

    def ownerships_of(self, vehicle_ids: Sequence[str]) -> dict[str, list[tuple[Ownership, str]]]:
        """Per vehicle, its ownerships with the owner's name, newest first."""
        if not vehicle_ids:
            return {}
        rows = self.session.execute(
            select(Ownership, Customer.name)
            .join(Customer, Customer.id == Ownership.customer_id)
            .where(Ownership.vehicle_id.in_(vehicle_ids))
            .order_by(Ownership.started_on.desc(), Ownership.id.desc())
        )
        found: dict[str, list[tuple[Ownership, str]]] = {}
        for ownership, name in rows:
            found.setdefault(ownership.vehicle_id, []).append((ownership, name))
        return found

    def brand_names(self, brand_ids: set[str]) -> dict[str, str]:
        if not brand_ids:
            return {}
        return dict(self.session.execute(select(Brand.id, Brand.name).where(Brand.id.in_(brand_ids))).all())

    def series_named(self, name: str) -> tuple[str, str] | None:
        """(series id, brand id) of the series with this Chinese or English name."""
        stmt = select(Series.id, Series.brand_id).where((Series.name == name) | (Series.name_en == name))
        row = self.session.execute(stmt).first()
        return None if row is None else (row.id, row.brand_id)

    def first_brand_id(self) -> str | None:
        """The brand a car of no named series is registered under (a single-brand install's)."""
        return self.session.scalar(select(Brand.id).order_by(Brand.id).limit(1))

    def current_ownership(self, vehicle_id: str) -> Ownership | None:
        stmt = select(Ownership).where(Ownership.vehicle_id == vehicle_id, Ownership.ended_on.is_(None))
        return self.session.scalar(stmt)

    def series_names(self, series_ids: set[str | None]) -> dict[str, str]:
        ids = {s for s in series_ids if s}
        if not ids:
            return {}
        return dict(self.session.execute(select(Series.id, Series.name).where(Series.id.in_(ids))).all())
