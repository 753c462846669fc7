"""The one place where data scope becomes SQL.

Every repository's ``readable(subject)`` passes its statement through :func:`scoped`.
A subject sees rows of its dealer(s); ``own`` additionally only rows assigned to it;
rows with no dealer belong to HQ and only ``all`` sees them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, select
from sqlalchemy.orm import InstrumentedAttribute

from drivetrain.auth.roles import Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.org.models import Dealer

S = TypeVar("S", bound=Select[Any])


def dealer_condition(
    subject: AuthSubject, dealer_col: InstrumentedAttribute[Any]
) -> ColumnElement[bool] | None:
    """The WHERE clause on a dealer column for this subject; None when it sees everything."""
    scope = subject.scope
    if scope is Scope.ALL:
        return None
    if scope is Scope.REGION:
        if subject.region_id is None:
            return false()
        return dealer_col.in_(select(Dealer.id).where(Dealer.region_id == subject.region_id))
    if scope is Scope.GROUP:
        if subject.group_id is None:
            return false()
        return dealer_col.in_(select(Dealer.id).where(Dealer.group_id == subject.group_id))
    if subject.dealer_id is None:
        return false()
    return dealer_col == subject.dealer_id


def scoped(
    stmt: S,
    subject: AuthSubject,
    *,
    dealer_col: InstrumentedAttribute[Any],
    owner_col: InstrumentedAttribute[Any] | None = None,
) -> S:
    condition = dealer_condition(subject, dealer_col)
    if condition is not None:
        stmt = stmt.where(condition)
    if subject.scope is Scope.OWN and owner_col is not None:
        stmt = stmt.where(owner_col == subject.user_id)
    return stmt
