"""Who may approve what: the authority matrix applied to a case's ladder.

Pure: it takes the ladder, one kind's limits (role → most it may approve, in cents; ``None`` = no limit;
a role missing from the mapping may not approve that kind) and an amount, and returns data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from drivetrain.cases.ladder import StaffMember, Step
from drivetrain.cases.models import Rung
from drivetrain.kit.errors import InvalidInput

CENTS_PER_YUAN = 100
Limits = Mapping[str, int | None]


@dataclass(frozen=True)
class Approver:
    """Who holds a request: a rung of the case's ladder and the person on it."""

    level: Rung
    member: StaffMember


def to_cents(yuan: Decimal) -> int:
    """Yuan with at most two decimals (the schema checks that) as whole cents."""
    return int(yuan * CENTS_PER_YUAN)


def to_yuan(cents: int) -> Decimal:
    return (Decimal(cents) / CENTS_PER_YUAN).quantize(Decimal("0.01"))


def may_approve(limits: Limits, role: str, amount_cents: int) -> bool:
    if role not in limits:
        return False
    limit = limits[role]
    return limit is None or amount_cents <= limit


def _qualified(
    steps: Sequence[Step], limits: Limits, amount_cents: int, *, above: int, excluded: set[str]
) -> Approver | None:
    for step in steps:
        holder = step.holder
        if step.level <= above or holder is None or holder.user_id in excluded:
            continue
        if may_approve(limits, holder.role, amount_cents):
            return Approver(step.level, holder)
    return None


def _rung_of(steps: Sequence[Step], user_id: str | None) -> int:
    """The highest rung the person holds on this ladder; -1 when they hold none (e.g. a hotline agent)."""
    held = [int(s.level) for s in steps if user_id and s.holder is not None and s.holder.user_id == user_id]
    return max(held, default=-1)


def route(steps: Sequence[Step], limits: Limits, amount_cents: int, *, requester_id: str | None) -> Approver:
    """The lowest rung whose holder may approve the amount, above the requester's own rung: four eyes,
    and nobody approves what their manager asked for."""
    above = _rung_of(steps, requester_id)
    found = _qualified(steps, limits, amount_cents, above=above, excluded={requester_id or ""})
    if found is None:
        raise InvalidInput(
            "amount", f"no one on this case's ladder may approve ¥{to_yuan(amount_cents)} of this kind"
        )
    return found


def forward_to(
    steps: Sequence[Step],
    limits: Limits,
    amount_cents: int,
    *,
    requester_id: str | None,
    level: int,
    approver_id: str | None,
) -> Approver | None:
    """The next rung above ``level`` whose holder may approve the amount, for an approver whose limit
    no longer covers it; None when nobody above may."""
    excluded = {requester_id or "", approver_id or ""}
    return _qualified(steps, limits, amount_cents, above=level, excluded=excluded)
