"""The ladder is a pure function: who holds each rung, and which rungs are skipped."""

from __future__ import annotations

import pytest

from drivetrain.cases.ladder import CasePlace, StaffMember, first_step, ladder, next_step

STAFF = [
    StaffMember("sa", "sa_a1", "service_advisor", "A1"),
    StaffMember("sm", "sm_a1", "store_manager", "A1"),
    StaffMember("sm2", "sm_b1", "store_manager", "B1"),
    StaffMember("rm", "region_east", "regional_manager", None, "east"),
    StaffMember("ops", "hq_ops", "hq_ops"),
    StaffMember("ceo", "ceo", "executive"),
]


@pytest.mark.parametrize(
    ("place", "holders"),
    [
        (CasePlace("A1", "east", "brakes"), ["sa", "sm", "rm", "ops", "ceo"]),
        (CasePlace("A1", "east", "staff_attitude"), ["sm", "sm", "rm", "ops", "ceo"]),
        (CasePlace("B1", "west", "brakes"), ["sm2", "sm2", None, "ops", "ceo"]),
        (CasePlace(None, None, "brakes"), ["ops", None, None, "ops", "ceo"]),
    ],
)
def test_holders_per_rung(place: CasePlace, holders: list[str | None]) -> None:
    steps = ladder(place, STAFF)
    assert [s.holder.user_id if s.holder else None for s in steps] == holders


@pytest.mark.parametrize(
    ("place", "level", "holder", "expected", "skipped"),
    [
        (CasePlace("A1", "east", "brakes"), 0, "sa", 1, []),
        (CasePlace("A1", "east", "staff_attitude"), 0, "sm", 2, [1]),  # the manager already holds it
        (CasePlace("B1", "west", "brakes"), 1, "sm2", 3, [2]),  # no regional manager in the west
        (CasePlace(None, None, "brakes"), 0, "ops", 4, [1, 2, 3]),
        (CasePlace("A1", "east", "brakes"), 4, "ceo", None, []),
    ],
)
def test_next_step(
    place: CasePlace, level: int, holder: str, expected: int | None, skipped: list[int]
) -> None:
    step, passed = next_step(ladder(place, STAFF), level, holder)
    assert (step.level if step else None) == expected
    assert [int(s.level) for s in passed] == skipped


def test_configured_heads_and_missing_assignee() -> None:
    staff = [*STAFF, StaffMember("ops2", "ops_head", "hq_ops")]
    steps = ladder(CasePlace("A1", "east", "brakes"), staff, hq_head="ops_head")
    assert steps[3].holder is not None and steps[3].holder.username == "ops_head"
    step, _ = first_step(ladder(CasePlace("C9", None, "brakes"), STAFF))
    assert step is not None and int(step.level) == 3
