"""/api/v1 identity resolution: runs, the review queue, merges and a customer's golden record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.customers.auth import CustomerReader
from drivetrain.customers.repository import CustomerRepository
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text
from drivetrain.unify import merge, presenters, review, service
from drivetrain.unify.auth import IdentityManager
from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.models import ReviewStatus
from drivetrain.unify.repository import ResolutionRepository
from drivetrain.unify.schemas import (
    DecisionRead,
    DecisionWrite,
    GoldenRead,
    MergeRead,
    MergeWrite,
    ResolutionRequest,
    ResolutionRunRead,
    ReviewRead,
    UnmergeWrite,
)

router = APIRouter(tags=["identity"])


@router.post(
    "/resolution-runs",
    status_code=201,
    summary="Resolve every source record into customers, refresh golden records, queue borderline pairs (HQ)",
)
def create_run(body: ResolutionRequest, subject: IdentityManager, session: SessionDep) -> ResolutionRunRead:
    config = ResolveConfig(
        match_probability=body.match_probability,
        review_probability=body.review_probability,
    )
    return ResolutionRunRead.model_validate(service.run_resolution(session, subject, config))


@router.get("/resolution-runs", summary="Recent resolution runs, newest first (HQ)")
def list_runs(
    subject: IdentityManager, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[ResolutionRunRead]:
    return [ResolutionRunRead.model_validate(run) for run in ResolutionRepository(session).runs(limit)]


@router.get("/match-reviews", summary="The review queue: record pairs the matcher could not decide (HQ)")
def list_reviews(
    subject: IdentityManager,
    session: SessionDep,
    status: ReviewStatus = ReviewStatus.PENDING,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[ReviewRead]:
    rows = ResolutionRepository(session).reviews(status, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda item: item.id)
    return Page(items=presenters.review_reads(session, subject, items), next_cursor=next_cursor)


@router.post(
    "/match-reviews/{review_id}/decision",
    summary="Decide a pair: same person (merges their customers) or different (binds later runs)",
)
def decide(
    review_id: str, body: DecisionWrite, subject: IdentityManager, session: SessionDep
) -> DecisionRead:
    decision = review.decide(session, subject, review_id, same=body.same, comment=body.comment)
    return DecisionRead(
        review=presenters.review_reads(session, subject, [decision.item])[0],
        merge_id=decision.merge.id if decision.merge else None,
        survivor_id=decision.merge.survivor_id if decision.merge else None,
        applies_at_next_run=decision.applies_at_next_run,
    )


@router.post(
    "/customers/{customer_id}/merges",
    status_code=201,
    summary="Merge another customer into this one (HQ; audited, undoable)",
)
def merge_into(
    customer_id: str, body: MergeWrite, subject: IdentityManager, session: SessionDep
) -> MergeRead:
    record = merge.merge_customers(
        session, subject, survivor_id=customer_id, merged_id=body.merged_id, reason=body.reason
    )
    return presenters.merge_read(record)


@router.post(
    "/customer-merges/{merge_id}/undo", summary="Unmerge: put back exactly what the merge moved (HQ)"
)
def undo_merge(merge_id: str, body: UnmergeWrite, subject: IdentityManager, session: SessionDep) -> MergeRead:
    return presenters.merge_read(merge.unmerge(session, subject, merge_id, reason=body.reason))


@router.get(
    "/customers/{customer_id}/golden",
    summary="Each golden field's value and where it came from, the linked source records, merges",
)
def golden(customer_id: str, subject: CustomerReader, session: SessionDep) -> GoldenRead:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    return presenters.golden_read(session, subject, customer)
