"""Console pages: the customer list with one search box, and the customer 360 page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.roles import Permission
from drivetrain.customers import service
from drivetrain.customers.presenters import customer_detail, customer_summaries, vehicle_detail
from drivetrain.customers.repository import CustomerRepository, VehicleRepository
from drivetrain.kit.pagination import page_of
from drivetrain.kit.validators import Text
from drivetrain.web.templating import ConsoleSubject, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


@router.get("/customers")
def customer_list(
    request: Request,
    subject: ConsoleSubject,
    session: SessionDep,
    q: Annotated[Text, Query(max_length=60)] = "",
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
) -> HTMLResponse:
    subject.require(Permission.CUSTOMERS_READ)
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
    request: Request, customer_id: str, subject: ConsoleSubject, session: SessionDep
) -> HTMLResponse:
    subject.require(Permission.CUSTOMERS_READ)
    repo = CustomerRepository(session)
    customer = repo.get(subject, customer_id)
    profile = customer_detail(session, subject, customer)
    vehicles = [vehicle_detail(session, v) for v in VehicleRepository(session).of_owners([customer.id])]
    events = repo.timeline(customer.id, kinds=None, cursor=None, limit=100)[:100]
    return render(
        request,
        "customers/detail.html",
        {
            "customer": profile,
            "vehicles": vehicles,
            "timeline": events,
            "history": repo.consent_history(customer.id),
        },
        subject=subject,
    )
