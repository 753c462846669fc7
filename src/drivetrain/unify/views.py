"""Console pages for identity resolution: the review queue, and the identity panel of the 360 page
(golden fields with their provenance, linked source records, merges, merge and unmerge)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission
from drivetrain.customers.auth import ConsoleCustomerReader
from drivetrain.customers.repository import CustomerRepository
from drivetrain.kit.pagination import page_of
from drivetrain.kit.validators import Text
from drivetrain.unify import merge, presenters, review
from drivetrain.unify.auth import ConsoleIdentityManager
from drivetrain.unify.models import ReviewStatus
from drivetrain.unify.repository import ResolutionRepository
from drivetrain.unify.schemas import MergeWrite, UnmergeWrite
from drivetrain.web.forms import validated
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
CsrfField = Annotated[str, Form(max_length=100)]


@router.get("/identity/review")
def review_queue(
    request: Request,
    subject: ConsoleIdentityManager,
    session: SessionDep,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
) -> HTMLResponse:
    repository = ResolutionRepository(session)
    rows = repository.reviews(ReviewStatus.PENDING, cursor=cursor, limit=PAGE_SIZE)
    items, next_cursor = page_of(rows, limit=PAGE_SIZE, id_of=lambda item: item.id)
    context = {
        "items": presenters.review_reads(session, subject, items),
        "next_cursor": next_cursor,
        "pending": repository.pending_count(),
        "runs": repository.runs(1),
    }
    return render(request, "identity/review.html", context, subject=subject)


@router.post("/identity/review/{review_id}")
def decide_pair(
    request: Request,
    review_id: str,
    subject: ConsoleIdentityManager,
    session: SessionDep,
    csrf_token: CsrfField,
    decision: Annotated[str, Form(pattern="^(same|different)$")],
    comment: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """Answers the decided pair's card in place (HTMX)."""
    check_csrf(request, csrf_token)
    outcome = review.decide(
        session, subject, review_id, same=decision == "same", comment=comment.strip() or None
    )
    context = {
        "item": presenters.review_reads(session, subject, [outcome.item])[0],
        "merge": outcome.merge,
        "later": outcome.applies_at_next_run,
    }
    return render(request, "identity/_decided.html", context, subject=subject)


@router.get("/customers/{customer_id}/identity")
def identity_panel(
    request: Request, customer_id: str, subject: ConsoleCustomerReader, session: SessionDep
) -> HTMLResponse:
    customer = CustomerRepository(session).get_readable(subject, customer_id)
    context = {
        "customer_id": customer.id,
        "golden": presenters.golden_read(session, subject, customer),
        "may_merge": subject.can(Permission.IDENTITY_MANAGE),
    }
    return render(request, "identity/_panel.html", context, subject=subject)


@router.post("/customers/{customer_id}/merge")
def merge_from_console(
    request: Request,
    customer_id: str,
    subject: ConsoleIdentityManager,
    session: SessionDep,
    csrf_token: CsrfField = "",
    merged_id: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    CustomerRepository(session).get_readable(subject, customer_id)  # out of scope: 404 before anything else
    check_csrf(request, csrf_token)
    data = validated(MergeWrite, {"merged_id": merged_id.strip(), "reason": reason})
    merge.merge_customers(
        session, subject, survivor_id=customer_id, merged_id=data.merged_id, reason=data.reason
    )
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)


@router.post("/identity/merges/{merge_id}/undo")
def unmerge_from_console(
    request: Request,
    merge_id: str,
    subject: ConsoleIdentityManager,
    session: SessionDep,
    csrf_token: CsrfField,
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    check_csrf(request, csrf_token)
    data = validated(UnmergeWrite, {"reason": reason})
    record = merge.unmerge(session, subject, merge_id, reason=data.reason)
    return RedirectResponse(f"/customers/{record.survivor_id}", status_code=303)
