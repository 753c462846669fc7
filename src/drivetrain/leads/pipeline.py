"""The lead pipeline's stage machine: which moves are allowed and what a move sets. Pure: data in, out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drivetrain.kit.errors import InvalidInput
from drivetrain.leads.models import Stage

NEXT_STAGES: dict[Stage, frozenset[Stage]] = {
    Stage.NEW: frozenset({Stage.CONTACTED, Stage.TEST_DRIVE_SCHEDULED, Stage.LOST}),
    Stage.CONTACTED: frozenset({Stage.TEST_DRIVE_SCHEDULED, Stage.NEGOTIATING, Stage.LOST}),
    Stage.TEST_DRIVE_SCHEDULED: frozenset({Stage.TEST_DRIVE_DONE, Stage.CONTACTED, Stage.LOST}),
    Stage.TEST_DRIVE_DONE: frozenset({Stage.NEGOTIATING, Stage.ORDERED, Stage.LOST}),
    Stage.NEGOTIATING: frozenset({Stage.ORDERED, Stage.TEST_DRIVE_SCHEDULED, Stage.LOST}),
    Stage.ORDERED: frozenset({Stage.WON, Stage.LOST}),
    Stage.WON: frozenset(),
    Stage.LOST: frozenset({Stage.CONTACTED}),  # a lost lead can be revived
}
CLOSED_STAGES = frozenset({Stage.WON, Stage.LOST})


@dataclass(frozen=True)
class LeadClock:
    """The first-contact and closing times a lead carries, before or after a move."""

    first_contacted_at: datetime | None
    first_contact_due_at: datetime | None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class StageMove:
    """What moving a lead to ``stage`` sets on it."""

    stage: Stage
    lost_reason: str | None
    clock: LeadClock


def check_move(current: Stage, target: Stage, lost_reason: str | None) -> None:
    """Raises ``InvalidInput`` unless the pipeline allows ``current → target`` (a loss needs a reason)."""
    if target is Stage.LOST and not (lost_reason or "").strip():
        raise InvalidInput("lost_reason", "say why the lead was lost")
    if target not in NEXT_STAGES[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT_STAGES[current])) or "none"
        raise InvalidInput(
            "stage", f"cannot move from {current.value} to {target.value} (allowed: {allowed})"
        )


def move(
    current: Stage, target: Stage, *, lost_reason: str | None, before: LeadClock, now: datetime
) -> StageMove:
    """The lead after a checked move: any move but a loss is the first contact, and stops the SLA clock."""
    check_move(current, target, lost_reason)
    contacted = before.first_contacted_at
    if contacted is None and target is not Stage.LOST:
        contacted = now
    due = None if contacted or target is Stage.LOST else before.first_contact_due_at
    return StageMove(
        stage=target,
        lost_reason=lost_reason if target is Stage.LOST else None,
        clock=LeadClock(contacted, due, now if target in CLOSED_STAGES else None),
    )
