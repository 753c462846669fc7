"""Queries for identity resolution: the records to resolve, decisions, review items, merges.

Resolution works on HQ data as a whole (every source record, every customer), so its readers
are HQ-only by permission (``identity:manage``); what a console user sees of a customer still
goes through ``CustomerRepository.readable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import (
    Column,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from drivetrain.customers.models import ContactKind, ContactPoint, Customer, Vehicle
from drivetrain.db import Base
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Dealer
from drivetrain.sources.models import Source, SourceRecord
from drivetrain.unify.config import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from drivetrain.unify.golden import SourceFacts
from drivetrain.unify.models import CustomerMerge, MatchReview, ResolutionRun, ReviewStatus

CRM_PREFIX = "crm:"
DRIVETRAIN_SOURCE_NAME = "drivetrain"
RECORD_COLUMNS = REQUIRED_COLUMNS + tuple(c for c in OPTIONAL_COLUMNS if c != "id_number")
"""What resolution reads of a stored record: ID numbers are stored only as their hash."""


def crm_ref(customer_id: str) -> str:
    return CRM_PREFIX + customer_id


def ordered_pair(left: str, right: str) -> tuple[str, str]:
    return (left, right) if left <= right else (right, left)


def _address_text(n: dict[str, Any]) -> str | None:
    parts = [n.get("province"), n.get("city"), n.get("district"), n.get("street")]
    if parts[1] == parts[0]:
        parts[1] = None
    text = "".join(part for part in parts if part)
    return text or None


class ResolutionRepository(Repository[MatchReview]):
    """HQ data as a whole: ``readable`` keeps the default (every row); the routes' gates admit HQ only."""

    model = MatchReview
    missing = "no such review item"

    # --- what resolution reads ---------------------------------------------------------------

    def resolution_input(self) -> tuple[pa.Table, pa.Table]:
        """(records, previous): every source record and what Drivetrain holds about every live
        customer (pinned to it), and each one's current customer."""
        columns: dict[str, list[Any]] = {name: [] for name in RECORD_COLUMNS}
        previous_ids: list[str] = []
        previous_keys: list[str] = []
        rows = self.session.execute(
            select(SourceRecord.id, Source.name, SourceRecord.normalized, SourceRecord.customer_id).join(
                Source, Source.id == SourceRecord.source_id
            )
        )
        for record_id, source, normalized, customer_id in rows:
            n = normalized if isinstance(normalized, dict) else json.loads(normalized)
            row = {
                "record_id": record_id,
                "source": source,
                "name": n.get("name"),
                "phone": n.get("phone"),
                "vin": n.get("vin"),
                "address": _address_text(n),
                "city": n.get("city"),
                "wechat_id": n.get("wechat_unionid") or n.get("wecom_external_id"),
                "email": n.get("email"),
                "plate": n.get("plate"),
                "id_hash": n.get("id_hash"),
                "pinned_key": None,
            }
            for name in RECORD_COLUMNS:
                columns[name].append(row[name])
            if customer_id is not None:
                previous_ids.append(record_id)
                previous_keys.append(customer_id)
        for row in self._customer_rows():
            for name in RECORD_COLUMNS:
                columns[name].append(row[name])
            previous_ids.append(row["record_id"])
            previous_keys.append(row["pinned_key"])
        records = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
        previous = pa.table(
            {
                "record_id": pa.array(previous_ids, pa.string()),
                "customer_key": pa.array(previous_keys, pa.string()),
            }
        )
        return records, previous

    def _customer_rows(self) -> Iterable[dict[str, Any]]:
        """Each live customer as a record of source "drivetrain", with the contact points and the
        first VIN it holds."""
        contacts: dict[str, dict[str, str]] = {}
        for customer_id, kind, value in self.session.execute(
            select(ContactPoint.customer_id, ContactPoint.kind, ContactPoint.value)
            .join(Customer, Customer.id == ContactPoint.customer_id)
            .where(Customer.merged_into_id.is_(None))
            .order_by(ContactPoint.customer_id, ContactPoint.kind, ContactPoint.value)
        ):
            contacts.setdefault(str(customer_id), {}).setdefault(kind, value)
        vins: dict[str, str] = {}
        for owner_id, vin in self.session.execute(
            select(Vehicle.owner_id, Vehicle.vin).where(Vehicle.owner_id.is_not(None)).order_by(Vehicle.id)
        ):
            vins.setdefault(str(owner_id), vin)
        customers = self.session.execute(
            select(
                Customer.id,
                Customer.name,
                Customer.primary_phone,
                Customer.address,
                Customer.city,
                Customer.id_number_hash,
            ).where(Customer.merged_into_id.is_(None))
        )
        for customer_id, name, phone, address, city, id_hash in customers:
            held = contacts.get(customer_id, {})
            yield {
                "record_id": crm_ref(customer_id),
                "source": DRIVETRAIN_SOURCE_NAME,
                "name": name,
                "phone": phone or held.get(ContactKind.MOBILE),
                "vin": vins.get(customer_id),
                "address": address,
                "city": city,
                "wechat_id": held.get(ContactKind.WECHAT_UNIONID) or held.get(ContactKind.WECOM_EXTERNAL),
                "email": held.get(ContactKind.EMAIL),
                "plate": None,
                "id_hash": id_hash,
                "pinned_key": customer_id,
            }

    def decisions(self) -> pa.Table:
        """Every decided pair, as constraints: (record_id_l, record_id_r, same)."""
        rows = self.session.execute(
            select(MatchReview.record_l, MatchReview.record_r, MatchReview.status).where(
                MatchReview.status != ReviewStatus.PENDING
            )
        ).all()
        return pa.table(
            {
                "record_id_l": pa.array([r[0] for r in rows], pa.string()),
                "record_id_r": pa.array([r[1] for r in rows], pa.string()),
                "same": pa.array([r[2] == ReviewStatus.SAME for r in rows], pa.bool_()),
            }
        )

    def live_customer_ids(self, ids: Iterable[str]) -> set[str]:
        wanted = list(set(ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            found.update(
                self.session.scalars(
                    select(Customer.id).where(
                        Customer.id.in_(wanted[start : start + 500]), Customer.merged_into_id.is_(None)
                    )
                )
            )
        return found

    def customers(self, ids: Sequence[str]) -> list[Customer]:
        found: list[Customer] = []
        for start in range(0, len(ids), 500):
            found.extend(
                self.session.scalars(select(Customer).where(Customer.id.in_(ids[start : start + 500])))
            )
        return found

    def facts_of(self, customer_ids: Sequence[str]) -> dict[str, list[SourceFacts]]:
        """The source records linked to each customer, as the golden record reads them."""
        facts: dict[str, list[SourceFacts]] = {customer_id: [] for customer_id in customer_ids}
        for start in range(0, len(customer_ids), 500):
            rows = self.session.execute(
                select(
                    SourceRecord.customer_id,
                    SourceRecord.id,
                    Source.name,
                    Source.trust_rank,
                    SourceRecord.updated_at,
                    SourceRecord.normalized,
                )
                .join(Source, Source.id == SourceRecord.source_id)
                .where(SourceRecord.customer_id.in_(customer_ids[start : start + 500]))
            )
            for customer_id, record_id, source, trust, updated_at, normalized in rows:
                facts[customer_id].append(SourceFacts(record_id, source, trust, updated_at, normalized))
        return facts

    def relink(self, moves: Sequence[tuple[str, str]]) -> None:
        """Point each (source record id, customer id) at its customer."""
        if not moves:
            return
        table = cast(Table, SourceRecord.__table__)
        statement = (
            update(table).where(table.c.id == bindparam("record")).values(customer_id=bindparam("customer"))
        )
        self.session.connection().execute(
            statement, [{"record": record_id, "customer": customer_id} for record_id, customer_id in moves]
        )

    def known_pairs(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        wanted = list(pairs)
        known: set[tuple[str, str]] = set()
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            known.update(
                (left, right)
                for left, right in self.session.execute(
                    select(MatchReview.record_l, MatchReview.record_r).where(
                        or_(*(and_(MatchReview.record_l == a, MatchReview.record_r == b) for a, b in chunk))
                    )
                )
            )
        return known

    # --- the review queue ----------------------------------------------------------------------

    def reviews(self, status: ReviewStatus, *, cursor: str | None, limit: int) -> list[MatchReview]:
        """Newest first, ``limit + 1`` rows (see ``kit.pagination``)."""
        stmt = select(MatchReview).where(MatchReview.status == status)
        return list(self.session.scalars(keyset(stmt, MatchReview.id, cursor=cursor, limit=limit)))

    def pending_count(self) -> int:
        return int(
            self.session.scalar(select(func.count()).where(MatchReview.status == ReviewStatus.PENDING)) or 0
        )

    def decision_between(self, left: str, right: str) -> MatchReview | None:
        record_l, record_r = ordered_pair(left, right)
        return self.session.scalar(
            select(MatchReview).where(MatchReview.record_l == record_l, MatchReview.record_r == record_r)
        )

    def record_facts(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """For showing a review pair: each source record's source, customer and normalised form."""
        ids = [ref for ref in refs if not ref.startswith(CRM_PREFIX)]
        shown: dict[str, dict[str, Any]] = {}
        for record_id, source, customer_id, normalized, external_id in self.session.execute(
            select(
                SourceRecord.id,
                Source.name,
                SourceRecord.customer_id,
                SourceRecord.normalized,
                SourceRecord.external_id,
            )
            .join(Source, Source.id == SourceRecord.source_id)
            .where(SourceRecord.id.in_(ids))
        ):
            shown[record_id] = {
                "source": source,
                "customer_id": customer_id,
                "normalized": normalized,
                "external_id": external_id,
            }
        return shown

    def dealers_of(self, customer_ids: Iterable[str]) -> dict[str, str]:
        """customer id -> "code name" of the dealer holding them (HQ-held customers are absent)."""
        wanted = list(customer_ids)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(Customer.id, Dealer.code, Dealer.name)
            .join(Dealer, Dealer.id == Customer.dealer_id)
            .where(Customer.id.in_(wanted))
        )
        return {customer_id: f"{code} {name}" for customer_id, code, name in rows}

    def records_of(self, customer_id: str) -> list[tuple[SourceRecord, str, int]]:
        """A customer's source records, with source name and trust rank, newest first."""
        return [
            (record, name, trust)
            for record, name, trust in self.session.execute(
                select(SourceRecord, Source.name, Source.trust_rank)
                .join(Source, Source.id == SourceRecord.source_id)
                .where(SourceRecord.customer_id == customer_id)
                .order_by(SourceRecord.updated_at.desc(), SourceRecord.id)
            )
        ]

    # --- merges -------------------------------------------------------------------------------

    def record_ids_of(self, customer_id: str) -> list[str]:
        """The ids of the source records linked to this customer."""
        stmt = select(SourceRecord.id).where(SourceRecord.customer_id == customer_id)
        return list(self.session.scalars(stmt))

    def delete_decision(self, item: MatchReview) -> None:
        self.session.execute(delete(MatchReview).where(MatchReview.id == item.id))

    def merges_of(self, customer_id: str) -> list[CustomerMerge]:
        return list(
            self.session.scalars(
                select(CustomerMerge)
                .where(or_(CustomerMerge.survivor_id == customer_id, CustomerMerge.merged_id == customer_id))
                .order_by(CustomerMerge.merged_at.desc())
            )
        )

    def runs(self, limit: int) -> list[ResolutionRun]:
        return list(
            self.session.scalars(select(ResolutionRun).order_by(ResolutionRun.id.desc()).limit(limit))
        )


class MergeRepository(Repository[CustomerMerge]):
    """Merges are HQ's record of identity decisions: the default ``readable`` (every row)."""

    model = CustomerMerge
    missing = "no such merge"


_NOT_MOVED = {
    ("customer", "merged_into_id"),
    ("customer_merge", "survivor_id"),
    ("customer_merge", "merged_id"),
}


def customer_references() -> Iterator[Column[Any]]:
    """Every column in the schema that points at a customer, except the merge bookkeeping itself."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in _NOT_MOVED:
                continue
            if any(
                fk.column.table.name == "customer" and fk.column.name == "id" for fk in column.foreign_keys
            ):
                yield column


class CustomerReferences:
    """Repoints every row that references a customer, in every domain's tables, by UPDATE.

    This is the one place where unify writes other domains' tables, and it must be: a merge makes
    two customers one, so each lead, case, vehicle, consent, tag, timeline line and source record of
    the merged customer moves to the survivor, whatever domain owns it. The columns come from the
    schema's foreign keys, so a new domain's table is covered without a service of its own to call;
    and the moved rows' keys are returned and kept on the merge, so an unmerge puts back exactly
    those rows and no others (which no per-domain "reassign customer" call could promise)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def move(self, source_id: str, target_id: str) -> dict[str, list[Any]]:
        """Repoint every reference from ``source_id`` to ``target_id``; ``{"table.column": keys}``
        of the rows moved (see ``_move``)."""
        return {
            f"{column.table.name}.{column.name}": self._move(column, source_id, target_id)
            for column in customer_references()
        }

    def move_back(self, moved: Mapping[str, list[Any]], survivor_id: str, merged_id: str) -> None:
        """Put back the rows ``move`` moved (its result) from the survivor to the merged customer."""
        for column in customer_references():
            for key in moved.get(f"{column.table.name}.{column.name}") or []:
                self.session.execute(
                    update(column.table)
                    .where(column == survivor_id, *_match(column.table, column, key))
                    .values({column.name: merged_id})
                )

    def _move(self, column: Column[Any], source_id: str, target_id: str) -> list[Any]:
        """Repoint ``column`` from source to target, except rows whose unique key the target holds
        already; returns the moved rows' keys (see ``_row_key``)."""
        table = column.table
        key_columns = _key_columns(table, column)
        if not key_columns:  # a row keyed by the customer alone (their value tier) is theirs: recomputed
            return []
        stmt = select(*key_columns).where(column == source_id)
        for other in _unique_partners(table, column):
            twin = table.alias("twin")
            stmt = stmt.where(
                ~exists().where(twin.c[column.name] == target_id, *(twin.c[c.name] == c for c in other))
            )
        keys = [_row_key(row) for row in self.session.execute(stmt)]
        for key in keys:
            self.session.execute(
                update(table)
                .where(column == source_id, *_match(table, column, key))
                .values({column.name: target_id})
            )
        return keys


def _key_columns(table: Table, column: Column[Any]) -> list[Column[Any]]:
    """What names a row apart from the customer column: its primary key, less that column."""
    return [c for c in table.primary_key.columns if c.name != column.name]


def _unique_partners(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    """For each unique key that includes ``column``: its other columns."""
    keys = [list(table.primary_key.columns)] + [
        list(constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    return [[c for c in key if c.name != column.name] for key in keys if column.name in {c.name for c in key}]


def _row_key(row: Any) -> Any:
    values = list(row)
    return values[0] if len(values) == 1 else values


def _match(table: Table, column: Column[Any], key: Any) -> list[Any]:
    columns = _key_columns(table, column)
    values = [key] if len(columns) == 1 else list(key)
    return [c == v for c, v in zip(columns, values, strict=True)]
