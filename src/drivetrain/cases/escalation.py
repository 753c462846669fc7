"""The escalation sweep: due cases climb one rung, in batches, each move guarded. No HTTP, no commit.

``ladder.py`` decides who holds a case; this module reads the due cases, works out each climb, writes
the guarded moves and records them (history, the customers' timelines, the new holders told).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from drivetrain.cases.ladder import RUNG_NAMES, CasePlace, StaffMember, Step, ladder, next_step, why_skipped
from drivetrain.cases.models import Case, Rung, SlaPolicy
from drivetrain.cases.notices import WECOM_TOPIC, Notice, rung_label, stored_text
from drivetrain.cases.repository import CaseHistoryRepository, CaseRepository, DueCase, GuardedMove
from drivetrain.cases.service import budget, working_hours
from drivetrain.customers.service import TimelineEntry, add_timeline_many
from drivetrain.jobs import events, outbox
from drivetrain.kit.calendar import add_business_time


@dataclass(frozen=True)
class _Climb:
    """A due case's move one rung up (``step`` None: no rung above), worked out before anything is written."""

    case: DueCase
    step: Step | None
    skipped: list[Step]
    new_due: datetime | None

    @property
    def level(self) -> int:
        return int(self.step.level) if self.step else self.case.escalation_level

    @property
    def owner_id(self) -> str | None:
        return self.step.holder.user_id if self.step and self.step.holder else self.case.owner_id

    def move(self, *, now: datetime) -> GuardedMove:
        """The guarded state change: from the level and due the case was read with."""
        case = self.case
        return GuardedMove(
            case_id=case.id,
            from_level=case.escalation_level,
            from_due=case.escalation_due_at,
            to_level=self.level,
            to_owner=self.owner_id,
            to_held_since=case.escalation_due_at if self.step else case.held_since,
            to_due=self.new_due,
            now=now,
        )


def escalate_due(session: Session, case_id: str, *, now: datetime) -> bool:
    """``escalate_due_cases`` for one case: whether this call acted."""
    return escalate_due_cases(session, [case_id], now=now) == 1


def escalate_due_cases(session: Session, case_ids: Collection[str], *, now: datetime) -> int:
    """The rungs' budgets ran out: move each due case one rung up, from the due time it saw.

    Each move is guarded on the level and deadline the case had, so a second worker or a retry changes
    nothing. The next due counts from this due (not from now), so a worker that was down climbs to the
    right rung, one rung per pass. Whatever its size, the batch costs one read per kind (the cases, the
    staff who may hold them, the policies), one executemany of the guarded UPDATE and one INSERT per
    table written. Returns how many cases moved.
    """
    repo = CaseRepository(session)
    cases = repo.due_for_escalation(case_ids, now=now) if case_ids else []
    if not cases:
        return 0
    staff = repo.ladder_staff_at({(case.dealer_id, case.region_id) for case in cases})
    policies = repo.policies_for({case.priority for case in cases})
    climbs = [
        _climb(session, case, staff.at[case.dealer_id, case.region_id], policies[case.priority])
        for case in cases
    ]
    moved = _move_all(repo, climbs, now=now)
    if moved:
        _expire_loaded(session, moved)
        _record(session, moved, wecom=staff.wecom_userids, now=now)
    return len(moved)


def _climb(session: Session, case: DueCase, staff: list[StaffMember], policy: SlaPolicy) -> _Climb:
    steps = ladder(CasePlace(case.dealer_id, case.region_id, case.category), staff)
    step, skipped = next_step(steps, case.escalation_level, case.owner_id)
    new_due: datetime | None = None
    if step is not None:
        above, _ = next_step(steps, step.level, step.holder.user_id if step.holder else None)
        if above:
            hours = working_hours(session, case.priority, case.dealer_id, policy)
            new_due = add_business_time(case.escalation_due_at, budget(policy), hours)
    return _Climb(case, step, skipped, new_due)


def _move_all(repo: CaseRepository, climbs: list[_Climb], *, now: datetime) -> list[_Climb]:
    """The guarded state changes, in one executemany: each case moves only if it still has the level and
    due it was read with. In the sweep every case has (its claim holds it), so all move at once; should
    one have moved meanwhile, the attempt is rolled back and each case tried alone, to learn which."""
    if len(climbs) > 1:
        attempt = repo.session.begin_nested()
        if repo.move_guarded([climb.move(now=now) for climb in climbs]) == len(climbs):
            attempt.commit()
            return climbs
        attempt.rollback()
    return [climb for climb in climbs if repo.move_guarded([climb.move(now=now)]) == 1]


def _expire_loaded(session: Session, moved: list[_Climb]) -> None:
    """The moves were written with Core, around the ORM: a copy of a case loaded in this session is stale."""
    for climb in moved:
        loaded = session.identity_map.get(identity_key(Case, climb.case.id))
        if loaded is not None:
            session.expire(loaded)


def _record(session: Session, moved: list[_Climb], *, wecom: dict[str, str | None], now: datetime) -> None:
    """The moves' history and the customers' timelines, one INSERT each; then the new holders are told."""
    CaseHistoryRepository(session).insert_many(
        [row for climb in moved for row in _history_rows(climb, now=now)]
    )
    climbed = [climb for climb in moved if climb.step is not None]
    add_timeline_many(session, [_timeline_entry(climb) for climb in climbed if climb.case.customer_id])
    if climbed:
        _tell(session, climbed, wecom=wecom)


def _tell(session: Session, climbed: list[_Climb], *, wecom: dict[str, str | None]) -> None:
    """As ``service.notify`` does for one case: a live event to each new holder (a user, so in ``wecom``),
    and a WeCom message to those with a WeCom id; one INSERT for the events and one for the messages."""
    told = [
        (owner, _notice(climb))
        for climb in climbed
        if (owner := climb.owner_id) is not None and owner in wecom
    ]
    events.publish_many(session, [("case.escalated", owner, notice.payload()) for owner, notice in told])
    outbox.enqueue_many(
        session,
        [
            (WECOM_TOPIC, notice.wecom_message("case.escalated", wecom_userid))
            for owner, notice in told
            if (wecom_userid := wecom[owner])
        ],
    )


def _notice(climb: _Climb) -> Notice:
    case = climb.case
    return Notice(case.id, case.title, case.priority, climb.level, climb.new_due)


def _history_rows(climb: _Climb, *, now: datetime) -> list[dict[str, Any]]:
    case, due = climb.case, climb.case.escalation_due_at
    rows = [
        _history_row(case.id, "skipped", due, int(step.level), f"{step.name}: {why_skipped(step)}")
        for step in climb.skipped
    ]
    if climb.step is None:
        note = "no rung above; the holder keeps the case"
        return [*rows, _history_row(case.id, "top", due, case.escalation_level, note)]
    late = int((now - due).total_seconds())
    note = f"{RUNG_NAMES[Rung(case.escalation_level)]} → {RUNG_NAMES[Rung(climb.level)]}" + (
        f"; swept {late}s late" if late > 0 else ""
    )
    escalated = _history_row(
        case.id,
        "escalated",
        due,
        climb.level,
        note,
        from_owner=case.owner_id,
        to_owner=climb.owner_id,
        held_seconds=int((due - case.held_since).total_seconds()),
    )
    return [*rows, escalated]


def _history_row(
    case_id: str,
    kind: str,
    at: datetime,
    level: int,
    note: str,
    *,
    from_owner: str | None = None,
    to_owner: str | None = None,
    held_seconds: int | None = None,
) -> dict[str, Any]:
    """A ``CaseHistory`` row for a bulk INSERT; the worker is no actor."""
    return {
        "case_id": case_id,
        "at": at,
        "kind": kind,
        "level": level,
        "note": note,
        "from_owner_id": from_owner,
        "to_owner_id": to_owner,
        "actor_id": None,
        "held_seconds": held_seconds,
    }


def _timeline_entry(climb: _Climb) -> TimelineEntry:
    assert climb.case.customer_id is not None
    return TimelineEntry(
        customer_id=climb.case.customer_id,
        kind="case.escalated",
        summary=stored_text("cases.stored.timeline.escalated", rung=rung_label(climb.level)),
        detail={"case_id": climb.case.id, "level": climb.level},
        dealer_id=climb.case.dealer_id,
    )
