"""Dealers and staff, read through the subject's scope."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from drivetrain.auth.models import User
from drivetrain.auth.scope import scoped
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.errors import NotFound
from drivetrain.org.models import Dealer, Region


class DealerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def readable(self, subject: AuthSubject) -> Select[Dealer]:
        return scoped(select(Dealer), subject, dealer_col=Dealer.id)

    def by_code(self, subject: AuthSubject, code: str) -> Dealer:
        stmt = self.readable(subject).where(Dealer.code == code.strip().upper())
        dealer = self.session.scalar(
            stmt.options(selectinload(Dealer.region), selectinload(Dealer.group), selectinload(Dealer.brands))
        )
        if dealer is None:
            raise NotFound(f"no dealer with code {code}")
        return dealer

    def search(
        self,
        subject: AuthSubject,
        *,
        q: str | None = None,
        region: str | None = None,
        province: str | None = None,
        cursor_code: str | None = None,
        limit: int = 50,
    ) -> list[Dealer]:
        """Dealers ordered by code (a stable, human key) after ``cursor_code``."""
        stmt = self.readable(subject).options(selectinload(Dealer.region), selectinload(Dealer.group))
        if q:
            pattern = f"%{q.strip()}%"
            stmt = stmt.where(
                or_(Dealer.name.like(pattern), Dealer.code == q.strip().upper(), Dealer.city.like(pattern))
            )
        if region:
            stmt = stmt.where(Dealer.region_id.in_(select(Region.id).where(Region.name == region)))
        if province:
            stmt = stmt.where(Dealer.province.like(f"{province.strip()}%"))
        if cursor_code:
            stmt = stmt.where(Dealer.code > cursor_code)
        return list(self.session.scalars(stmt.order_by(Dealer.code).limit(limit + 1)))


class StaffRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def readable(self, subject: AuthSubject) -> Select[User]:
        """HQ staff (no dealer) are visible to HQ only, like every dealer-less row."""
        return scoped(select(User), subject, dealer_col=User.dealer_id, owner_col=User.id)

    def of_dealer(self, subject: AuthSubject, dealer_id: str) -> list[User]:
        stmt = self.readable(subject).where(User.dealer_id == dealer_id, User.active.is_(True))
        return list(self.session.scalars(stmt.order_by(User.role, User.username)))

    def by_username(self, subject: AuthSubject, username: str) -> User:
        user = self.session.scalar(self.readable(subject).where(User.username == username))
        if user is None:
            raise NotFound("no such staff member")
        return user

    def usernames(self, user_ids: set[str]) -> dict[str, str]:
        """Display helper for ids already read through a scoped statement."""
        if not user_ids:
            return {}
        return dict(self.session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())

    def names(self, user_ids: set[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Display helper like ``usernames``, in one query: usernames, and the names people know each
        other by (display names), each by user id."""
        if not user_ids:
            return {}, {}
        rows = self.session.execute(
            select(User.id, User.username, User.display_name).where(User.id.in_(user_ids))
        ).all()
        return {r.id: r.username for r in rows}, {r.id: r.display_name for r in rows}
