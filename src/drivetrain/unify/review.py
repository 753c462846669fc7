"""The review queue: a person decides whether two records the matcher was unsure of are one person.

"Same" between records of two customers merges them at once (the customer Drivetrain held first
survives, a CRM-entered one before one made by resolution); "same" within one customer, or
"different", is a constraint the next resolution run obeys (splitting a customer is the
matcher's job, with every record in view).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer
from drivetrain.kit import clock
from drivetrain.unify.merge import merge_customers
from drivetrain.unify.models import CustomerMerge, MatchReview, ReviewStatus
from drivetrain.unify.repository import CRM_PREFIX, ResolutionRepository
from drivetrain.unify.service import ensure_pending


@dataclass(frozen=True)
class Decision:
    item: MatchReview
    merge: CustomerMerge | None
    applies_at_next_run: bool


def decide(
    session: Session, subject: AuthSubject, review_id: str, *, same: bool, comment: str | None
) -> Decision:
    repository = ResolutionRepository(session)
    item = repository.get_readable(subject, review_id)
    ensure_pending(item)
    item.status = ReviewStatus.SAME if same else ReviewStatus.DIFFERENT
    item.decided_by, item.decided_at, item.comment = subject.user_id or None, clock.now(), comment
    session.flush()
    audit.record(
        session,
        subject,
        action="identity.review",
        entity_type="match_review",
        entity_id=item.id,
        changes={
            "status": [ReviewStatus.PENDING.value, item.status],
            "pair": [None, [item.record_l, item.record_r]],
        },
    )
    left, right = (customer_of(session, repository, ref) for ref in (item.record_l, item.record_r))
    if same and left is not None and right is not None and left.id != right.id:
        survivor, merged = sorted((left, right), key=_seniority)
        reason = comment or "the review queue decided these records are one person"
        merge = merge_customers(session, subject, survivor_id=survivor.id, merged_id=merged.id, reason=reason)
        return Decision(item, merge, applies_at_next_run=False)
    changes_nothing_now = same or left is None or right is None or left.id != right.id
    return Decision(item, None, applies_at_next_run=not changes_nothing_now)


def customer_of(session: Session, repository: ResolutionRepository, ref: str) -> Customer | None:
    """The live customer a record reference belongs to now (following merges)."""
    if ref.startswith(CRM_PREFIX):
        customer_id: str | None = ref.removeprefix(CRM_PREFIX)
    else:
        customer_id = repository.record_facts([ref]).get(ref, {}).get("customer_id")
    customer = session.get(Customer, customer_id) if customer_id else None
    while customer is not None and customer.merged_into_id is not None:
        customer = session.get(Customer, customer.merged_into_id)
    return customer


def _seniority(customer: Customer) -> tuple[bool, str]:
    return (customer.source == "resolution", customer.id)
