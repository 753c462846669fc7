"""The escalation ladder: who holds a case at each rung, along the real reporting lines.

Pure: it takes the case's place and the staff who could hold it, and returns data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivetrain.auth.roles import Role
from drivetrain.cases.models import Rung

RUNG_NAMES: dict[Rung, str] = {
    Rung.ASSIGNEE: "assignee",
    Rung.STORE_MANAGER: "store_manager",
    Rung.REGIONAL_MANAGER: "regional_manager",
    Rung.HQ_OPS_HEAD: "hq_ops_head",
    Rung.CEO: "ceo",
}
PRODUCT_CATEGORIES = frozenset(
    {
        "engine",
        "transmission",
        "steering",
        "brakes",
        "tyres_wheels",
        "suspension",
        "body_electrical",
        "battery_charging",
        "infotainment_software",
        "adas",
        "aftersales_service",
    }
)
"""A service advisor takes these first; the rest (sales, delivery, fees, attitude) go to the store manager."""


@dataclass(frozen=True)
class StaffMember:
    user_id: str
    username: str
    role: str
    dealer_id: str | None = None
    region_id: str | None = None


@dataclass(frozen=True)
class CasePlace:
    dealer_id: str | None
    region_id: str | None
    category: str


@dataclass(frozen=True)
class Step:
    level: Rung
    holder: StaffMember | None

    @property
    def name(self) -> str:
        return RUNG_NAMES[self.level]


def _first(staff: Sequence[StaffMember], role: Role, **where: str | None) -> StaffMember | None:
    found = [
        s for s in staff if s.role == role and all(getattr(s, key) == value for key, value in where.items())
    ]
    return min(found, key=lambda s: s.username) if found else None


def ladder(
    place: CasePlace,
    staff: Sequence[StaffMember],
    *,
    hq_head: str | None = None,
    ceo: str | None = None,
) -> list[Step]:
    """The holder of each rung 0..4 (None where nobody holds it); ``staff`` are active staff only.

    ``hq_head`` and ``ceo`` name configured holders; otherwise the first HQ operations user and the
    first executive by username hold those rungs.
    """
    by_name = {s.username: s for s in staff}
    head = by_name.get(hq_head or "") or _first(staff, Role.HQ_OPS, dealer_id=None)
    chief = by_name.get(ceo or "") or _first(staff, Role.EXECUTIVE)
    manager = regional = assignee = None
    if place.dealer_id is not None:
        manager = _first(staff, Role.STORE_MANAGER, dealer_id=place.dealer_id)
        if place.category in PRODUCT_CATEGORIES:
            assignee = _first(staff, Role.SERVICE_ADVISOR, dealer_id=place.dealer_id)
        assignee = assignee or manager
        if place.region_id is not None:
            regional = _first(staff, Role.REGIONAL_MANAGER, region_id=place.region_id)
    else:
        assignee = head
    holders = [assignee, manager, regional, head, chief]
    return [Step(Rung(level), holder) for level, holder in enumerate(holders)]


def next_step(
    steps: Sequence[Step], level: int, current_holder: str | None
) -> tuple[Step | None, list[Step]]:
    """The next rung above ``level`` with a holder other than the current one, and the rungs skipped
    on the way (nobody holds them, or the same person already does)."""
    skipped: list[Step] = []
    for step in steps:
        if step.level <= level:
            continue
        if step.holder is None or step.holder.user_id == current_holder:
            skipped.append(step)
            continue
        return step, skipped
    return None, skipped


def first_step(steps: Sequence[Step]) -> tuple[Step | None, list[Step]]:
    """Who takes a new case: the assignee, or the first rung above with a holder."""
    if steps and steps[0].holder is not None:
        return steps[0], []
    return next_step(steps, 0, None)


def why_skipped(step: Step) -> str:
    """The history's note on a rung passed over."""
    return "nobody holds this rung" if step.holder is None else "the holder already has the case"
