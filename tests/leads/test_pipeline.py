"""The stage machine, table by table: every move it allows or refuses, and what each move sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drivetrain.kit.errors import InvalidInput
from drivetrain.leads.models import Stage
from drivetrain.leads.pipeline import NEXT_STAGES, LeadClock, check_move, move

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=1)
DUE = NOW + timedelta(minutes=15)
S = Stage

ALLOWED = {
    (S.NEW, S.CONTACTED),
    (S.NEW, S.TEST_DRIVE_SCHEDULED),
    (S.NEW, S.LOST),
    (S.CONTACTED, S.TEST_DRIVE_SCHEDULED),
    (S.CONTACTED, S.NEGOTIATING),
    (S.CONTACTED, S.LOST),
    (S.TEST_DRIVE_SCHEDULED, S.TEST_DRIVE_DONE),
    (S.TEST_DRIVE_SCHEDULED, S.CONTACTED),
    (S.TEST_DRIVE_SCHEDULED, S.LOST),
    (S.TEST_DRIVE_DONE, S.NEGOTIATING),
    (S.TEST_DRIVE_DONE, S.ORDERED),
    (S.TEST_DRIVE_DONE, S.LOST),
    (S.NEGOTIATING, S.ORDERED),
    (S.NEGOTIATING, S.TEST_DRIVE_SCHEDULED),
    (S.NEGOTIATING, S.LOST),
    (S.ORDERED, S.WON),
    (S.ORDERED, S.LOST),
    (S.LOST, S.CONTACTED),
}
"""Written out by hand, so a change to the machine shows up here as a diff."""
EVERY_PAIR = [(a, b) for a in Stage for b in Stage if a is not b]


def test_the_table_is_the_machine() -> None:
    assert {(a, b) for a, targets in NEXT_STAGES.items() for b in targets} == ALLOWED
    assert set(NEXT_STAGES) == set(Stage)


@pytest.mark.parametrize(("current", "target"), EVERY_PAIR, ids=[f"{a}-{b}" for a, b in EVERY_PAIR])
def test_a_move_is_checked_against_the_table(current: Stage, target: Stage) -> None:
    reason = "价格" if target is S.LOST else None
    if (current, target) in ALLOWED:
        check_move(current, target, reason)
    else:
        with pytest.raises(InvalidInput) as refused:
            check_move(current, target, reason)
        assert refused.value.field == "stage"


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_loss_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_move(S.NEW, S.LOST, reason)
    assert refused.value.field == "lost_reason"


WAITING = LeadClock(first_contacted_at=None, first_contact_due_at=DUE)
CONTACTED = LeadClock(first_contacted_at=EARLIER, first_contact_due_at=None)
# (current, target, lost reason, clock before) → (lost reason kept, clock after)
MOVES = [
    (S.NEW, S.CONTACTED, None, WAITING, None, LeadClock(NOW, None, None)),
    (S.NEW, S.TEST_DRIVE_SCHEDULED, None, WAITING, None, LeadClock(NOW, None, None)),
    (S.NEW, S.LOST, "重复", WAITING, "重复", LeadClock(None, None, NOW)),
    (S.CONTACTED, S.NEGOTIATING, None, CONTACTED, None, LeadClock(EARLIER, None, None)),
    (S.ORDERED, S.WON, None, CONTACTED, None, LeadClock(EARLIER, None, NOW)),
    (S.ORDERED, S.LOST, "价格", CONTACTED, "价格", LeadClock(EARLIER, None, NOW)),
    (S.LOST, S.CONTACTED, None, LeadClock(None, None, EARLIER), None, LeadClock(NOW, None, None)),
]


@pytest.mark.parametrize(
    ("current", "target", "reason", "before", "kept", "after"), MOVES, ids=[f"{m[0]}-{m[1]}" for m in MOVES]
)
def test_what_a_move_sets(
    current: Stage, target: Stage, reason: str | None, before: LeadClock, kept: str | None, after: LeadClock
) -> None:
    moved = move(current, target, lost_reason=reason, before=before, now=NOW)
    assert (moved.stage, moved.lost_reason, moved.clock) == (target, kept, after)


def test_a_refused_move_sets_nothing() -> None:
    with pytest.raises(InvalidInput):
        move(S.WON, S.CONTACTED, lost_reason=None, before=CONTACTED, now=NOW)
