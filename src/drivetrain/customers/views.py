"""Console pages: the customer list with one search box, and the customer 360 page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from drivetrain.auth.deps import SessionDep
from drivetrain.customers import service
from drivetrain.customers.auth import ConsoleCustomerReader
from drivetrain.customers.presenters import customer_detail, customer_summaries, vehicle_details
from drivetrain.customers.repository import (
    GROUPS,
    OWN_SOURCE,
    CustomerRepository,
    TimelineFilter,
    VehicleRepository,
    timeline_position,
)
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.pagination import page_of
from drivetrain.kit.validators import Text
from drivetrain.sources.repository import SourceRepository
from drivetrain.web.templating import local_time, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
TIMELINE_PAGE = 50
RENEWAL_NOTICE = timedelta(days=30)
TIMELINE_TARGET = "timeline-events"
"""The element the timeline filters replace: such a request gets the timeline fragment only."""


@router.get("/customers")
def customer_list(
    request: Request,
    subject: ConsoleCustomerReader,
    session: SessionDep,
    q: Annotated[Text, Query(max_length=60)] = "",
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
) -> HTMLResponse:
    rows = CustomerRepository(session).search(
        subject, service.interpret_query(q), cursor=cursor, limit=PAGE_SIZE
    )
    items, next_cursor = page_of(rows, limit=PAGE_SIZE, id_of=lambda c: c.id)
    context = {"q": q, "customers": customer_summaries(session, subject, items), "next_cursor": next_cursor}
    # HTMX asks for the results only as the user types; a plain visit gets the whole page.
    template = "customers/_results.html" if request.headers.get("hx-request") else "customers/list.html"
    return render(request, template, context, subject=subject)


@router.get("/customers/{customer_id}")
def customer_page(
    request: Request,
    customer_id: str,
    subject: ConsoleCustomerReader,
    session: SessionDep,
    group: Annotated[Text, Query(max_length=20)] = "",
    source: Annotated[Text, Query(max_length=40)] = "",
    since: Annotated[Text, Query(max_length=20)] = "",
    until: Annotated[Text, Query(max_length=20)] = "",
    cursor: Annotated[Text | None, Query(max_length=120)] = None,
) -> HTMLResponse:
    """The 360 page; the timeline filters (kind group, source, days) re-render the timeline alone."""
    repo = CustomerRepository(session)
    customer = repo.get_readable(subject, customer_id)
    chosen = {"group": group, "source": source, "since": since, "until": until}
    error: InvalidInput | None = None
    try:
        filters = _timeline_filter(SourceRepository(session), group, source, since, until)
    except InvalidInput as invalid:
        filters, error = TimelineFilter(), invalid
    rows = repo.timeline(customer.id, filters=filters, cursor=cursor, limit=TIMELINE_PAGE)
    events, next_cursor = page_of(rows, limit=TIMELINE_PAGE, id_of=timeline_position)
    context: dict[str, Any] = {
        "customer_id": customer.id,
        "timeline": events,
        "next_cursor": next_cursor,
        "chosen": chosen,
        "filter_error": error,
        "renewal_window": _renewal_window(),
    }
    status = 422 if error else 200
    if request.headers.get("hx-target") == TIMELINE_TARGET:
        return render(request, "customers/_timeline.html", context, subject=subject, status=status)
    vehicles = vehicle_details(session, VehicleRepository(session).of_owners([customer.id]))
    context |= {
        "customer": customer_detail(session, subject, customer),
        "vehicles": vehicles,
        "history": repo.consent_history(customer.id),
        "groups": GROUPS,
        "sources": SourceRepository(session).names_on_timeline(customer.id),
        "own_source": OWN_SOURCE,
    }
    return render(request, "customers/detail.html", context, subject=subject, status=status)


def _timeline_filter(
    sources: SourceRepository, group: str, source: str, since: str, until: str
) -> TimelineFilter:
    return TimelineFilter.checked(
        groups=[group] if group else [],
        source=source or None,
        since=_day("since", since),
        until=_day("until", until),
        records_of=sources.record_ids_named,
    )


def _renewal_window() -> tuple[str, str]:
    """Today and 30 days on (China days, ISO): a policy running out in between is flagged for renewal."""
    today = local_time(clock.now(), "%Y-%m-%d")
    return today, (date.fromisoformat(today) + RENEWAL_NOTICE).isoformat()


def _day(field: str, text: str) -> date | None:
    """A date input's value: empty, or YYYY-MM-DD (a hand-typed URL may hold anything)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, "not a date in YYYY-MM-DD") from None
