"""Manual merge and unmerge of two customers, audited, and exactly reversible.

A merge repoints every row that references the merged customer (leads, cases, vehicles,
ownerships, consents, contact points, tags, timeline, source records — found from the schema's
foreign keys, so a new domain's table is covered without touching this) to the survivor, and
records which rows moved (``repository.CustomerReferences`` holds that SQL). A row the survivor
already has an equal of (the same phone as a contact point, the same tag) stays behind rather than be
duplicated. The merged customer is kept, marked ``merged_into_id``, so old links still resolve and an
unmerge can bring it back.

The merge is also a decision for identity resolution: the survivor's record and each of the
merged customer's source records are linked ("same", via merge), so a later run does not split
them again; an unmerge replaces those with "different" between the two customers.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer
from drivetrain.customers.repository import CustomerRepository
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput, NotFound
from drivetrain.unify.models import CustomerMerge, MatchReview, ReviewStatus
from drivetrain.unify.repository import (
    CustomerReferences,
    MergeRepository,
    ResolutionRepository,
    crm_ref,
    ordered_pair,
)
from drivetrain.unify.service import refresh_golden

GOLDEN_FIELDS = (
    "name",
    "gender",
    "primary_phone",
    "address",
    "province",
    "city",
    "district",
    "adcode",
    "id_number_hash",
    "id_number_last4",
    "provenance",
)


def merge_customers(
    session: Session, subject: AuthSubject, *, survivor_id: str, merged_id: str, reason: str
) -> CustomerMerge:
    customers = CustomerRepository(session)
    survivor = customers.get_readable(subject, survivor_id)
    if survivor_id == merged_id:
        raise InvalidInput("merged_id", "a customer cannot be merged into themselves")
    try:
        merged = customers.get_readable(subject, merged_id)
    except NotFound:
        raise InvalidInput("merged_id", "no such customer") from None
    for customer, field in ((survivor, "survivor_id"), (merged, "merged_id")):
        if customer.merged_into_id is not None:
            raise Conflict(
                f"{field}: customer {customer.id} was merged into {customer.merged_into_id} already"
            )
    before = {name: getattr(survivor, name) for name in GOLDEN_FIELDS}
    merged_records = ResolutionRepository(session).record_ids_of(merged.id)
    moved = CustomerReferences(session).move(merged.id, survivor.id)
    merged.merged_into_id = survivor.id
    survivor.updated_at = clock.now()  # its rows changed: tags and tiers recompute it (segments_tasks)
    record = CustomerMerge(
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason=reason,
        moved={key: rows for key, rows in moved.items() if rows},
        survivor_before=before,
        merged_by=subject.user_id or None,
        merged_at=clock.now(),
    )
    session.add(record)
    _link_decisions(session, subject, survivor.id, merged.id, merged_records, record)
    session.flush()
    refresh_golden(session, [survivor.id])
    audit.record(
        session,
        subject,
        action="customer.merge",
        entity_type="customer",
        entity_id=survivor.id,
        dealer_id=survivor.dealer_id,
        changes={
            "merged_id": [None, merged.id],
            "reason": [None, reason],
            "rows_moved": [None, sum(map(len, moved.values()))],
        },
    )
    return record


def unmerge(session: Session, subject: AuthSubject, merge_id: str, *, reason: str) -> CustomerMerge:
    """Put back what the merge moved, restore the survivor's golden record, revive the merged one."""
    record = MergeRepository(session).get_readable(subject, merge_id)
    if record.unmerged_at is not None:
        raise Conflict("this merge was undone already")
    survivor = CustomerRepository(session).get_readable(subject, record.survivor_id)
    merged = session.get(Customer, record.merged_id)
    assert merged is not None, "a merged customer is never deleted"
    CustomerReferences(session).move_back(record.moved, survivor.id, merged.id)
    for name, value in record.survivor_before.items():
        setattr(survivor, name, value)
    merged.merged_into_id = None
    survivor.updated_at = merged.updated_at = clock.now()
    record.unmerged_at, record.unmerged_by = clock.now(), subject.user_id or None
    _unlink_decisions(session, subject, record)
    session.flush()
    refresh_golden(session, [survivor.id, merged.id])
    audit.record(
        session,
        subject,
        action="customer.unmerge",
        entity_type="customer",
        entity_id=survivor.id,
        dealer_id=survivor.dealer_id,
        changes={"merged_id": [merged.id, None], "reason": [None, reason]},
    )
    return record


# --- decisions for identity resolution -----------------------------------------------------------


def _link_decisions(
    session: Session,
    subject: AuthSubject,
    survivor_id: str,
    merged_id: str,
    merged_records: list[str],
    merge: CustomerMerge,
) -> None:
    repository = ResolutionRepository(session)
    for ref in [crm_ref(merged_id), *merged_records]:
        _decide(
            session,
            repository,
            subject,
            crm_ref(survivor_id),
            ref,
            ReviewStatus.SAME,
            via="merge",
            comment=merge.reason,
        )


def _unlink_decisions(session: Session, subject: AuthSubject, merge: CustomerMerge) -> None:
    repository = ResolutionRepository(session)
    survivor_ref = crm_ref(merge.survivor_id)
    for ref in [crm_ref(merge.merged_id), *map(str, merge.moved.get("source_record.customer_id", []))]:
        item = repository.decision_between(survivor_ref, ref)
        if item is not None and item.via == "merge":
            repository.delete_decision(item)
    _decide(
        session,
        repository,
        subject,
        survivor_ref,
        crm_ref(merge.merged_id),
        ReviewStatus.DIFFERENT,
        via="unmerge",
        comment=None,
    )


def _decide(
    session: Session,
    repository: ResolutionRepository,
    subject: AuthSubject,
    left: str,
    right: str,
    status: ReviewStatus,
    *,
    via: str,
    comment: str | None,
) -> None:
    item = repository.decision_between(left, right)
    if item is None:
        record_l, record_r = ordered_pair(left, right)
        item = MatchReview(
            record_l=record_l, record_r=record_r, probability=1.0, reason="decided by a person"
        )
        session.add(item)
    item.status, item.via, item.comment = status, via, comment
    item.decided_by, item.decided_at = subject.user_id or None, clock.now()
    session.flush()
