"""All case queries. Every read for a subject starts from ``readable(subject)``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, update

from drivetrain.auth.models import User
from drivetrain.auth.roles import Role, Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.ladder import StaffMember
from drivetrain.cases.models import (
    DEFAULT_POLICIES,
    Case,
    CaseHistory,
    CaseStatus,
    ClassificationCorrection,
    Priority,
    SlaPolicy,
)
from drivetrain.customers.models import Customer
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Dealer
from drivetrain.org.repository import scoped

LADDER_ROLES = (Role.SERVICE_ADVISOR, Role.STORE_MANAGER)
HQ_LADDER_ROLES = (Role.HQ_OPS, Role.EXECUTIVE)


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    active_only: bool = False
    """Open or waiting for the customer: not resolved."""
    owner_id: str | None = None
    priority: str | None = None
    dealer_id: str | None = None
    min_level: int | None = None


@dataclass(frozen=True)
class DueCase:
    """What the escalation sweep needs of a due case, read without loading the ORM object."""

    id: str
    title: str
    priority: str
    category: str
    dealer_id: str | None
    region_id: str | None
    customer_id: str | None
    escalation_level: int
    owner_id: str | None
    held_since: datetime
    escalation_due_at: datetime


Place = tuple[str | None, str | None]
"""A case's (dealer, region): whose staff may hold it."""


@dataclass(frozen=True)
class LadderStaff:
    """Who may hold cases at some places (``ladder_staff`` per place), and how each is reached on WeCom."""

    at: dict[Place, list[StaffMember]]
    wecom_userids: dict[str, str | None]


@dataclass(frozen=True)
class GuardedMove:
    """One case's climb for ``CaseRepository.move_guarded``: from the level and due it was read with."""

    case_id: str
    from_level: int
    from_due: datetime
    to_level: int
    to_owner: str | None
    to_held_since: datetime
    to_due: datetime | None
    now: datetime


_GUARDED_MOVE = (
    update(Case)
    .where(
        Case.id == bindparam("case_id"),
        Case.escalation_level == bindparam("from_level"),
        Case.escalation_due_at == bindparam("from_due"),
        Case.status == CaseStatus.OPEN,
    )
    .values(
        escalation_level=bindparam("to_level"),
        owner_id=bindparam("to_owner"),
        held_since=bindparam("to_held_since"),
        escalation_due_at=bindparam("to_due"),
        claimed_by=None,
        claimed_until=None,
        updated_at=bindparam("now"),
    )
)
"""Built once, run with one set of parameters per case."""


class CaseRepository(Repository[Case]):
    model = Case
    missing = "no such case"

    def readable(self, subject: AuthSubject) -> Select[Case]:
        """Cases at the subject's dealers; ``own`` subjects see those they hold, opened, or whose
        customer is theirs."""
        stmt = scoped(select(Case), subject, dealer_col=Case.dealer_id)
        if subject.scope is Scope.OWN:
            mine = select(Customer.id).where(Customer.consultant_id == subject.user_id)
            stmt = stmt.where(
                or_(
                    Case.owner_id == subject.user_id,
                    Case.opened_by_id == subject.user_id,
                    Case.customer_id.in_(mine),
                )
            )
        return stmt

    def search(
        self, subject: AuthSubject, filters: CaseFilter, *, cursor: str | None, limit: int
    ) -> list[Case]:
        stmt = self.readable(subject)
        if filters.status:
            stmt = stmt.where(Case.status == filters.status)
        if filters.active_only:
            stmt = stmt.where(Case.status != CaseStatus.RESOLVED)
        if filters.owner_id:
            stmt = stmt.where(Case.owner_id == filters.owner_id)
        if filters.priority:
            stmt = stmt.where(Case.priority == filters.priority)
        if filters.dealer_id:
            stmt = stmt.where(Case.dealer_id == filters.dealer_id)
        if filters.min_level is not None:
            stmt = stmt.where(Case.escalation_level >= filters.min_level)
        return list(self.session.scalars(keyset(stmt, Case.id, cursor=cursor, limit=limit)))

    def history(self, case_id: str) -> list[CaseHistory]:
        stmt = (
            select(CaseHistory).where(CaseHistory.case_id == case_id).order_by(CaseHistory.at, CaseHistory.id)
        )
        return list(self.session.scalars(stmt))

    def policy(self, priority: str) -> SlaPolicy:
        """The priority's policy; a database without the seeded row gets the default one."""
        found = self.session.get(SlaPolicy, priority)
        if found is None:
            first, resolution, escalation, business_hours = DEFAULT_POLICIES[Priority(priority)]
            found = SlaPolicy(
                priority=priority,
                first_response_seconds=first,
                resolution_seconds=resolution,
                escalation_seconds=escalation,
                business_hours=business_hours,
            )
            self.session.add(found)
            self.session.flush()
        return found

    def policies(self) -> list[SlaPolicy]:
        return [self.policy(p.value) for p in Priority]

    def ladder_staff(self, dealer_id: str | None, region_id: str | None) -> list[StaffMember]:
        """Active staff who may hold a case of this dealer: its advisors and manager, its region's
        manager, HQ operations and executives. One query, each branch on an index of its own."""
        conditions: list[ColumnElement[bool]] = [User.role.in_(HQ_LADDER_ROLES)]
        if dealer_id is not None:
            conditions.append((User.dealer_id == dealer_id) & User.role.in_(LADDER_ROLES))
        if region_id is not None:
            conditions.append((User.role == Role.REGIONAL_MANAGER) & (User.region_id == region_id))
        rows = self.session.execute(  # sorted here: an ORDER BY would make SQLite scan the username index
            select(User.id, User.username, User.role, User.dealer_id, User.region_id).where(
                User.active.is_(True), or_(*conditions)
            )
        )
        staff = [StaffMember(uid, name, role, dealer, region) for uid, name, role, dealer, region in rows]
        return sorted(staff, key=lambda member: member.username)

    def dealer_codes(self, dealer_ids: set[str]) -> dict[str, str]:
        """Codes of dealers whose cases were read in scope (a display helper, not a read of its own)."""
        if not dealer_ids:
            return {}
        return dict(
            self.session.execute(select(Dealer.id, Dealer.code).where(Dealer.id.in_(dealer_ids))).all()
        )

    def region_of(self, dealer_id: str | None) -> str | None:
        if dealer_id is None:
            return None
        return self.session.scalar(select(Dealer.region_id).where(Dealer.id == dealer_id))

    def due_for_escalation(self, case_ids: Collection[str], *, now: datetime) -> list[DueCase]:
        """Those of ``case_ids`` open and due by ``now``, with their dealer's region, oldest due first."""
        rows = self.session.execute(
            select(
                Case.id,
                Case.title,
                Case.priority,
                Case.category,
                Case.dealer_id,
                Dealer.region_id,
                Case.customer_id,
                Case.escalation_level,
                Case.owner_id,
                Case.held_since,
                Case.escalation_due_at,
            )
            .outerjoin(Dealer, Dealer.id == Case.dealer_id)
            .where(
                Case.id.in_(case_ids),
                Case.status == CaseStatus.OPEN,
                Case.escalation_due_at.is_not(None),
                Case.escalation_due_at <= now,
            )
            .order_by(Case.escalation_due_at, Case.id)
        )
        return [DueCase(*row) for row in rows]

    def ladder_staff_at(self, places: Collection[Place]) -> LadderStaff:
        """``ladder_staff`` for many places in one query, with the staff's WeCom ids."""
        dealer_ids = {dealer for dealer, _ in places if dealer is not None}
        region_ids = {region for _, region in places if region is not None}
        rows = self.session.execute(
            select(
                User.id, User.username, User.role, User.dealer_id, User.region_id, User.wecom_userid
            ).where(
                User.active.is_(True),
                or_(
                    User.role.in_(HQ_LADDER_ROLES),
                    User.dealer_id.in_(dealer_ids) & User.role.in_(LADDER_ROLES),
                    (User.role == Role.REGIONAL_MANAGER) & User.region_id.in_(region_ids),
                ),
            )
        )
        wecom_userids: dict[str, str | None] = {}
        anywhere: list[StaffMember] = []
        by_dealer: dict[str | None, list[StaffMember]] = defaultdict(list)
        by_region: dict[str | None, list[StaffMember]] = defaultdict(list)
        for uid, name, role, dealer, region, wecom in rows:
            member = StaffMember(uid, name, role, dealer, region)
            wecom_userids[uid] = wecom
            if role in HQ_LADDER_ROLES:
                anywhere.append(member)
            elif role in LADDER_ROLES:
                by_dealer[dealer].append(member)
            else:
                by_region[region].append(member)
        at = {
            (dealer, region): sorted(
                [*anywhere, *by_dealer.get(dealer, []), *by_region.get(region, [])],
                key=lambda member: member.username,
            )
            for dealer, region in places
        }
        return LadderStaff(at=at, wecom_userids=wecom_userids)

    def policies_for(self, priorities: Collection[str]) -> dict[str, SlaPolicy]:
        """The policies of these priorities in one query (a missing row gets the default, as ``policy``)."""
        found = {
            policy.priority: policy
            for policy in self.session.scalars(select(SlaPolicy).where(SlaPolicy.priority.in_(priorities)))
        }
        return {priority: found.get(priority) or self.policy(priority) for priority in priorities}

    def move_guarded(self, moves: list[GuardedMove]) -> int:
        """How many of ``moves`` were made, in one executemany with Core (a DBAPI executemany reports the
        sum on SQLite and PostgreSQL); a case no longer at its ``from_level`` and ``from_due`` stays."""
        params = [asdict(move) for move in moves]
        return self.session.connection().execute(_GUARDED_MOVE, params).rowcount


class CaseHistoryRepository(Repository[CaseHistory]):
    """A case's history is read with its case (``CaseRepository.history``); the sweep writes it in bulk."""

    model = CaseHistory


class CorrectionRepository(Repository[ClassificationCorrection]):
    """People's corrections of the classifier; read for retraining and with their case."""

    model = ClassificationCorrection

    def latest_per_case(self) -> list[ClassificationCorrection]:
        """Each corrected case's latest correction, oldest case first (a stable training order)."""
        newest = (
            select(ClassificationCorrection.case_id, func.max(ClassificationCorrection.at).label("at"))
            .group_by(ClassificationCorrection.case_id)
            .subquery()
        )
        stmt = (
            select(ClassificationCorrection)
            .join(
                newest,
                (newest.c.case_id == ClassificationCorrection.case_id)
                & (newest.c.at == ClassificationCorrection.at),
            )
            .order_by(ClassificationCorrection.at, ClassificationCorrection.id)
        )
        latest: dict[str, ClassificationCorrection] = {}
        for correction in self.session.scalars(stmt):
            latest[correction.case_id] = correction  # two at the same instant: the later id wins
        return list(latest.values())

    def of_case(self, case_id: str) -> list[ClassificationCorrection]:
        stmt = (
            select(ClassificationCorrection)
            .where(ClassificationCorrection.case_id == case_id)
            .order_by(ClassificationCorrection.at, ClassificationCorrection.id)
        )
        return list(self.session.scalars(stmt))
