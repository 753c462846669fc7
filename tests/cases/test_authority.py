"""Routing by the authority matrix is a pure function: the lowest rung above the requester whose limit
covers the amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from drivetrain.cases.approvals.authority import forward_to, may_approve, route, to_cents, to_yuan
from drivetrain.cases.ladder import CasePlace, StaffMember, ladder
from drivetrain.cases.models import DEFAULT_AUTHORITY, ApprovalKind
from drivetrain.kit.errors import InvalidInput

STAFF = [
    StaffMember("sa", "sa_a1", "service_advisor", "A1"),
    StaffMember("sm", "sm_a1", "store_manager", "A1"),
    StaffMember("sm2", "sm_b1", "store_manager", "B1"),
    StaffMember("rm", "region_east", "regional_manager", None, "east"),
    StaffMember("ops", "hq_ops", "hq_ops"),
    StaffMember("ceo", "ceo", "executive"),
]
PRODUCT = ladder(CasePlace("A1", "east", "brakes"), STAFF)  # sa, sm, rm, ops, ceo
SALES = ladder(CasePlace("A1", "east", "staff_attitude"), STAFF)  # sm, sm, rm, ops, ceo
WEST = ladder(CasePlace("B1", "west", "brakes"), STAFF)  # sm2, sm2, nobody, ops, ceo
YUAN = 100


@pytest.mark.parametrize(
    ("steps", "kind", "yuan", "requester", "expected"),
    [
        (PRODUCT, ApprovalKind.REFUND, 300, None, ("sa", 0)),
        (PRODUCT, ApprovalKind.REFUND, 300, "sa", ("sm", 1)),  # four eyes: not the advisor's own
        (PRODUCT, ApprovalKind.REFUND, 500, None, ("sa", 0)),  # exactly the limit is covered
        (PRODUCT, ApprovalKind.REFUND, 300, "sm", ("rm", 2)),  # never down to the requester's own staff
        (PRODUCT, ApprovalKind.REFUND, 300, "ops", ("ceo", 4)),
        (PRODUCT, ApprovalKind.REFUND, 501, None, ("sm", 1)),
        (PRODUCT, ApprovalKind.REFUND, 50_000, "sa", ("rm", 2)),
        (PRODUCT, ApprovalKind.REFUND, 300_000, "sa", ("ops", 3)),
        (PRODUCT, ApprovalKind.REFUND, 1_000_000, "sa", ("ceo", 4)),
        (PRODUCT, ApprovalKind.RETURN, 250_000, "sa", ("sm", 1)),  # a store manager may approve a return
        (PRODUCT, ApprovalKind.RETURN, 100, None, ("sm", 1)),  # an advisor may approve no return at all
        (PRODUCT, ApprovalKind.EXTENDED_WARRANTY, 9_000, "sm", ("rm", 2)),
        (SALES, ApprovalKind.GOODWILL, 100, None, ("sm", 0)),  # the manager holds rung 0 too
        (SALES, ApprovalKind.GOODWILL, 100, "sm", ("rm", 2)),
        (WEST, ApprovalKind.REFUND, 50_000, "sm2", ("ops", 3)),  # no regional manager: skipped
        (PRODUCT, ApprovalKind.DISCOUNT, 1_000, "sa", ("sm", 1)),  # consultants are not on the ladder
    ],
)
def test_routes_to_lowest_covering_rung(
    steps: list, kind: ApprovalKind, yuan: int, requester: str | None, expected: tuple[str, int]
) -> None:
    found = route(steps, DEFAULT_AUTHORITY[kind], yuan * YUAN, requester_id=requester)
    assert (found.member.user_id, int(found.level)) == expected


def test_nobody_qualified_is_invalid_amount() -> None:
    limits = {"store_manager": 1_000 * YUAN}
    with pytest.raises(InvalidInput) as raised:
        route(PRODUCT, limits, 5_000 * YUAN, requester_id=None)
    assert raised.value.field == "amount" and "no one on this case's ladder" in raised.value.reason
    with pytest.raises(InvalidInput):  # the only qualified holder asked for it themselves
        route(PRODUCT, limits, 500 * YUAN, requester_id="sm")


@pytest.mark.parametrize(
    ("level", "approver", "requester", "yuan", "expected"),
    [
        (1, "sm", "sa", 50_000, "rm"),
        (1, "sm", "sa", 200_000, "ops"),
        (2, "rm", "sa", 200_000, "ops"),
        (3, "ops", "rm", 600_000, "ceo"),
        (3, "ops", "ceo", 600_000, None),  # the only one above asked for it
        (4, "ceo", "sa", 50_000, None),  # nobody above the top
    ],
)
def test_forwards_to_next_covering_rung_above(
    level: int, approver: str, requester: str, yuan: int, expected: str | None
) -> None:
    found = forward_to(
        PRODUCT,
        DEFAULT_AUTHORITY[ApprovalKind.REFUND],
        yuan * YUAN,
        requester_id=requester,
        level=level,
        approver_id=approver,
    )
    assert (found.member.user_id if found else None) == expected


@pytest.mark.parametrize(
    ("role", "cents", "allowed"),
    [
        ("store_manager", 20_000 * YUAN, True),
        ("store_manager", 20_000 * YUAN + 1, False),
        ("executive", 10**12, True),  # no limit
        ("sales_consultant", 1, False),  # no row: no authority for refunds
    ],
)
def test_may_approve(role: str, cents: int, allowed: bool) -> None:
    assert may_approve(DEFAULT_AUTHORITY[ApprovalKind.REFUND], role, cents) is allowed


def test_yuan_and_cents() -> None:
    assert to_cents(Decimal("300.01")) == 30_001
    assert to_cents(Decimal("0.1")) == 10
    assert str(to_yuan(30_000)) == "300.00"
    assert str(to_yuan(1)) == "0.01"
