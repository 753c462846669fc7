"""/api/v1/dealers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.kit.pagination import MAX_LIMIT, Page
from drivetrain.kit.validators import Text
from drivetrain.org.auth import DealerReader, StaffReader
from drivetrain.org.presenters import dealer_detail, dealer_summary
from drivetrain.org.repository import DealerRepository, StaffRepository
from drivetrain.org.schemas import DealerRead, DealerSummary, StaffRead

router = APIRouter(tags=["dealers"])


@router.get("/dealers", summary="The dealers you may see, by code")
def list_dealers(
    subject: DealerReader,
    session: SessionDep,
    q: Annotated[Text | None, Query(max_length=60, description="Name, code or city")] = None,
    region: Annotated[Text | None, Query(max_length=40)] = None,
    province: Annotated[Text | None, Query(max_length=20)] = None,
    cursor: Annotated[
        Text | None, Query(max_length=20, description="The last dealer code of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[DealerSummary]:
    rows = DealerRepository(session).search(
        subject, q=q, region=region, province=province, cursor_code=cursor, limit=limit
    )
    items = rows[:limit]
    next_cursor = items[-1].code if len(rows) > limit else None
    return Page(items=[dealer_summary(d) for d in items], next_cursor=next_cursor)


@router.get("/dealers/{code}", summary="One dealer")
def get_dealer(code: str, subject: DealerReader, session: SessionDep) -> DealerRead:
    return dealer_detail(DealerRepository(session).by_code(subject, code))


@router.get("/dealers/{code}/staff", summary="Active staff of a dealer")
def dealer_staff(code: str, subject: StaffReader, session: SessionDep) -> list[StaffRead]:
    dealer = DealerRepository(session).by_code(subject, code)
    return [
        StaffRead(
            username=u.username,
            display_name=u.display_name,
            role=u.role,
            title=u.title,
            dealer_code=dealer.code,
        )
        for u in StaffRepository(session).of_dealer(subject, dealer.id)
    ]
