"""Dealers, staff and the catalogue, read through the subject's scope; and data scope itself.

Scope becomes SQL here, in one place: every repository's ``readable(subject)`` passes its statement
through :func:`scoped`. A subject sees rows of its dealer(s); ``own`` additionally only rows assigned
to it; rows with no dealer belong to HQ and only ``all`` sees them. Region and group scope are sets
of dealers, which org owns: that is why scope lives here and auth (the subject) knows no org.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from drivetrain.auth.models import ApiToken, AuditEntry, User
from drivetrain.auth.roles import Permission, Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.errors import NotFound
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Brand, Dealer, DealerGroup, Oem, Region, Series

S = TypeVar("S", bound=Select[Any])


def dealer_condition(
    subject: AuthSubject, dealer_col: InstrumentedAttribute[Any]
) -> ColumnElement[bool] | None:
    """The WHERE clause on a dealer column for this subject; None when it sees everything."""
    if subject.is_hq:
        return None
    scope = subject.scope
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


class DealerRepository(Repository[Dealer]):
    model = Dealer
    missing = "no such dealer"

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

    def network(self) -> list[Dealer]:
        """Every dealer with its region and brands: the directory's whole network."""
        stmt = select(Dealer).options(selectinload(Dealer.region), selectinload(Dealer.brands))
        return list(self.session.scalars(stmt))

    def by_code_with_brands(self) -> dict[str, Dealer]:
        """Every dealer by code, brands loaded: what an import matches its rows against."""
        return {d.code: d for d in self.session.scalars(select(Dealer).options(selectinload(Dealer.brands)))}

    def with_code(self, code: str) -> Dealer | None:
        """The dealer with exactly this code, regardless of scope (the CLI names a new account's dealer)."""
        return self.session.scalar(select(Dealer).where(Dealer.code == code))


class RegionRepository(Repository[Region]):
    model = Region
    missing = "no such region"

    def by_name(self) -> dict[str, Region]:
        return {r.name: r for r in self.session.scalars(select(Region))}

    def id_named(self, name: str) -> str | None:
        return self.session.scalar(select(Region.id).where(Region.name == name))


class DealerGroupRepository(Repository[DealerGroup]):
    model = DealerGroup
    missing = "no such dealer group"

    def id_named(self, name: str) -> str | None:
        return self.session.scalar(select(DealerGroup.id).where(DealerGroup.name == name))


class CatalogRepository(Repository[Oem]):
    """The OEM, its brands and series."""

    model = Oem
    missing = "no such OEM"

    def oem_named(self, name: str) -> Oem | None:
        return self.session.scalar(select(Oem).where(Oem.name == name))

    def any_oem_id(self) -> str | None:
        """The network's OEM (there is one)."""
        return self.session.scalar(select(Oem.id))

    def brand_named(self, name: str) -> Brand | None:
        return self.session.scalar(select(Brand).where(Brand.name == name))

    def series_names(self, brand_id: str) -> set[str]:
        return set(self.session.scalars(select(Series.name).where(Series.brand_id == brand_id)))


class StaffRepository(Repository[User]):
    model = User
    missing = "no such staff member"

    def readable(self, subject: AuthSubject) -> Select[User]:
        """HQ staff (no dealer) are visible to HQ only, like every dealer-less row."""
        return scoped(select(User), subject, dealer_col=User.dealer_id, owner_col=User.id)

    def of_dealer(self, subject: AuthSubject, dealer_id: str) -> list[User]:
        stmt = self.readable(subject).where(User.dealer_id == dealer_id, User.active.is_(True))
        return list(self.session.scalars(stmt.order_by(User.role, User.username)))

    def by_username(self, subject: AuthSubject, username: str) -> User:
        user = self.session.scalar(self.readable(subject).where(User.username == username))
        if user is None:
            raise NotFound(self.missing)
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


class AuditRepository(Repository[AuditEntry]):
    """The audit log through the subject's scope (HQ-level rows for HQ only)."""

    model = AuditEntry
    missing = "no such audit entry"

    def readable(self, subject: AuthSubject) -> Select[AuditEntry]:
        return scoped(
            select(AuditEntry), subject, dealer_col=AuditEntry.dealer_id, owner_col=AuditEntry.actor_id
        )

    def search(
        self, subject: AuthSubject, *, entity_id: str | None, cursor: str | None, limit: int
    ) -> list[tuple[AuditEntry, str | None]]:
        stmt = (
            self.readable(subject).add_columns(User.username).outerjoin(User, User.id == AuditEntry.actor_id)
        )
        if entity_id:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        return [
            (entry, username)
            for entry, username in self.session.execute(
                keyset(stmt, AuditEntry.id, cursor=cursor, limit=limit)
            )
        ]


class TokenRepository(Repository[ApiToken]):
    """API tokens: everyone sees their own; whoever manages staff also sees the tokens of the
    accounts in their scope (a store manager those of their store, HQ every one)."""

    model = ApiToken
    missing = "no such token"

    def readable(self, subject: AuthSubject) -> Select[ApiToken]:
        """Tokens joined to their account (whose username callers add as a column)."""
        stmt = select(ApiToken).join(User, User.id == ApiToken.user_id)
        own = ApiToken.user_id == subject.user_id
        if not subject.can(Permission.STAFF_MANAGE):
            return stmt.where(own)
        managed = dealer_condition(subject, User.dealer_id)
        return stmt if managed is None else stmt.where(or_(own, managed))

    def search(
        self,
        subject: AuthSubject,
        *,
        username: str | None,
        include_revoked: bool,
        cursor: str | None,
        limit: int,
    ) -> list[tuple[ApiToken, str]]:
        stmt = self.readable(subject).add_columns(User.username)
        if username:
            stmt = stmt.where(User.username == username)
        if not include_revoked:
            stmt = stmt.where(ApiToken.revoked_at.is_(None))
        rows = self.session.execute(keyset(stmt, ApiToken.id, cursor=cursor, limit=limit))
        return [(token, name) for token, name in rows]
