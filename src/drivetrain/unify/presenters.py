"""Shape review pairs, merges and a customer's golden-record provenance for one subject.

Review pairs show personal data side by side so a person can judge them: masked unless the
subject may read PII (``pii:read``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer
from drivetrain.kit.masking import mask_tail
from drivetrain.kit.phone import mask_phone
from drivetrain.unify.models import CustomerMerge, MatchReview
from drivetrain.unify.repository import CRM_PREFIX, ResolutionRepository
from drivetrain.unify.schemas import FieldSource, GoldenRead, LinkedRecord, MergeRead, RecordView, ReviewRead

_SHOWN_FIELDS: dict[str, Callable[[Customer], str | None]] = {
    "name": lambda c: c.name,
    "gender": lambda c: c.gender,
    "phone": lambda c: c.primary_phone,
    "address": lambda c: c.address,
    "id_number": lambda c: f"**************{c.id_number_last4}" if c.id_number_last4 else None,
}


def merge_read(merge: CustomerMerge) -> MergeRead:
    return MergeRead(
        id=merge.id,
        survivor_id=merge.survivor_id,
        merged_id=merge.merged_id,
        reason=merge.reason,
        rows_moved=sum(len(rows) for rows in merge.moved.values()),
        merged_at=merge.merged_at,
        unmerged_at=merge.unmerged_at,
    )


def review_reads(session: Session, subject: AuthSubject, items: Sequence[MatchReview]) -> list[ReviewRead]:
    reveal = subject.can(Permission.PII_READ)
    refs = {ref for item in items for ref in (item.record_l, item.record_r)}
    views = _record_views(session, refs, reveal)
    return [
        ReviewRead(
            id=item.id,
            probability=round(item.probability, 4),
            reason=item.reason,
            status=item.status,
            via=item.via,
            created_at=item.created_at,
            decided_at=item.decided_at,
            comment=item.comment,
            left=views[item.record_l],
            right=views[item.record_r],
        )
        for item in items
    ]


def _record_views(session: Session, refs: set[str], reveal: bool) -> dict[str, RecordView]:
    views = _bare_record_views(session, refs, reveal)
    customers = {view.customer_id for view in views.values() if view.customer_id}
    dealers = ResolutionRepository(session).dealers_of(customers)
    return {
        ref: view.model_copy(update={"dealer": dealers.get(view.customer_id or "")})
        for ref, view in views.items()
    }


def _bare_record_views(session: Session, refs: set[str], reveal: bool) -> dict[str, RecordView]:
    facts = ResolutionRepository(session).record_facts(refs)
    views: dict[str, RecordView] = {}
    for ref in refs:
        if ref.startswith(CRM_PREFIX):
            views[ref] = _customer_view(session, ref, reveal)
            continue
        found = facts.get(ref)
        n: dict[str, Any] = found["normalized"] if found else {}
        views[ref] = RecordView(
            ref=ref,
            source=found["source"] if found else "(deleted)",
            external_id=found["external_id"] if found else None,
            customer_id=found["customer_id"] if found else None,
            name=n.get("name"),
            phone=_phone(n.get("phone"), reveal),
            vin=n.get("vin"),
            city=n.get("city"),
            email=_tail(n.get("email"), reveal),
            wechat_id=_tail(n.get("wechat_unionid") or n.get("wecom_external_id"), reveal),
        )
    return views


def _customer_view(session: Session, ref: str, reveal: bool) -> RecordView:
    customer = session.get(Customer, ref.removeprefix(CRM_PREFIX))
    return RecordView(
        ref=ref,
        source="drivetrain",
        external_id=None,
        customer_id=customer.id if customer else None,
        name=customer.name if customer else None,
        phone=_phone(customer.primary_phone, reveal) if customer else None,
        vin=None,
        city=customer.city if customer else None,
        email=None,
        wechat_id=None,
    )


def _phone(value: str | None, reveal: bool) -> str | None:
    return value if reveal or value is None else mask_phone(value)


def _tail(value: str | None, reveal: bool) -> str | None:
    return value if reveal or value is None else mask_tail(value)


def golden_read(session: Session, subject: AuthSubject, customer: Customer) -> GoldenRead:
    """``customer`` comes from ``CustomerRepository.get`` (scope checked)."""
    reveal = subject.can(Permission.PII_READ)
    repository = ResolutionRepository(session)
    fields = []
    for name, read in _SHOWN_FIELDS.items():
        value = read(customer)
        if name in ("phone", "address") and value is not None and not reveal:
            value = mask_phone(value) if name == "phone" else mask_tail(value)
        origin = customer.provenance.get(name)
        fields.append(
            FieldSource(
                field=name,
                value=value,
                source=origin["source"] if origin else "drivetrain",
                rule=origin["rule"] if origin else None,
                at=datetime.fromisoformat(origin["at"]) if origin else None,
            )
        )
    return GoldenRead(
        customer_id=customer.id,
        merged_into_id=customer.merged_into_id,
        fields=fields,
        records=[
            LinkedRecord(
                id=record.id,
                source=source,
                trust_rank=trust,
                external_id=record.external_id,
                updated_at=record.updated_at,
            )
            for record, source, trust in repository.records_of(customer.id)
        ],
        merges=[merge_read(merge) for merge in repository.merges_of(customer.id)],
    )
