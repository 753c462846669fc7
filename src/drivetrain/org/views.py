"""Console pages: the dealer list and a dealer's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from drivetrain.auth.deps import SessionDep
from drivetrain.auth.roles import Permission
from drivetrain.customers.repository import CustomerRepository
from drivetrain.kit.validators import Text
from drivetrain.org.auth import ConsoleDealerReader
from drivetrain.org.presenters import dealer_detail, dealer_summary
from drivetrain.org.repository import DealerRepository, StaffRepository
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/dealers")
def dealer_list(
    request: Request,
    subject: ConsoleDealerReader,
    session: SessionDep,
    q: Annotated[Text, Query(max_length=60)] = "",
    cursor: Annotated[Text | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    rows = DealerRepository(session).search(subject, q=q or None, cursor_code=cursor, limit=PAGE_SIZE)
    items = rows[:PAGE_SIZE]
    context = {
        "q": q,
        "dealers": [dealer_summary(d) for d in items],
        "next_cursor": items[-1].code if len(rows) > PAGE_SIZE else None,
    }
    template = "dealers/_results.html" if request.headers.get("hx-request") else "dealers/list.html"
    return render(request, template, context, subject=subject)


@router.get("/dealers/{code}")
def dealer_page(
    request: Request, code: str, subject: ConsoleDealerReader, session: SessionDep
) -> HTMLResponse:
    dealer = DealerRepository(session).by_code(subject, code)
    staff = (
        StaffRepository(session).of_dealer(subject, dealer.id) if subject.can(Permission.STAFF_READ) else []
    )
    customer_count = CustomerRepository(session).count_at_dealer(subject, dealer.id)
    return render(
        request,
        "dealers/detail.html",
        {"dealer": dealer_detail(dealer), "staff": staff, "customer_count": customer_count},
        subject=subject,
    )
