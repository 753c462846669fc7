"""All lead queries. Every read for a subject starts from ``readable(subject)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select

from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit.errors import NotFound
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.leads.models import (
    OPEN_STAGES,
    ConsultantDuty,
    DealerLeadState,
    FollowUpTask,
    Lead,
    LeadHistory,
    LeadSettings,
    LeadTouch,
)
from drivetrain.org.repository import scoped


@dataclass(frozen=True)
class LeadFilter:
    stage: str | None = None
    open_only: bool = False
    dealer_id: str | None = None
    consultant_id: str | None = None
    channel: str | None = None
    campaign: str | None = None
    unassigned: bool = False


class LeadRepository(Repository[Lead]):
    model = Lead
    missing = "no such lead"

    def readable(self, subject: AuthSubject) -> Select[Lead]:
        return scoped(select(Lead), subject, dealer_col=Lead.dealer_id, owner_col=Lead.consultant_id)

    def search(
        self, subject: AuthSubject, filters: LeadFilter, *, cursor: str | None, limit: int
    ) -> list[Lead]:
        stmt = self.readable(subject)
        if filters.stage:
            stmt = stmt.where(Lead.stage == filters.stage)
        if filters.open_only:
            stmt = stmt.where(Lead.stage.in_(OPEN_STAGES))
        if filters.dealer_id:
            stmt = stmt.where(Lead.dealer_id == filters.dealer_id)
        if filters.consultant_id:
            stmt = stmt.where(Lead.consultant_id == filters.consultant_id)
        if filters.channel:
            stmt = stmt.where(Lead.channel == filters.channel)
        if filters.campaign:
            stmt = stmt.where(Lead.campaign == filters.campaign)
        if filters.unassigned:
            stmt = stmt.where(Lead.dealer_id.is_(None))
        return list(self.session.scalars(keyset(stmt, Lead.id, cursor=cursor, limit=limit)))

    def task(self, subject: AuthSubject, task_id: str) -> FollowUpTask:
        """A follow-up is visible when its lead is."""
        leads = self.readable(subject).with_only_columns(Lead.id)
        task = self.session.scalar(
            select(FollowUpTask).where(FollowUpTask.id == task_id, FollowUpTask.lead_id.in_(leads))
        )
        if task is None:
            raise NotFound("no such task")
        return task

    def my_tasks(self, subject: AuthSubject, *, open_only: bool, limit: int) -> list[FollowUpTask]:
        leads = self.readable(subject).with_only_columns(Lead.id)
        stmt = select(FollowUpTask).where(
            FollowUpTask.lead_id.in_(leads), FollowUpTask.assignee_id == subject.user_id
        )
        if open_only:
            stmt = stmt.where(FollowUpTask.done_at.is_(None))
        return list(self.session.scalars(stmt.order_by(FollowUpTask.due_at).limit(limit)))

    # Identity lookups for capture (system level, not display reads).
    def by_source_refs(self, refs: set[tuple[str, str]]) -> dict[tuple[str, str], Lead]:
        """The leads channels' own ids already produced, as leads of their own or as touches on open ones.

        Matched as ``channel IN … AND source_ref IN …`` (which both databases answer from the
        (channel, source_ref) indexes; a row-value IN is a full scan on SQLite), then paired here.
        """
        if not refs:
            return {}
        channels, values = {c for c, _ in refs}, {r for _, r in refs}
        found: dict[tuple[str, str], Lead] = {}
        touched = self.session.execute(
            select(LeadTouch.channel, LeadTouch.source_ref, Lead)
            .join(Lead, Lead.id == LeadTouch.lead_id)
            .where(LeadTouch.channel.in_(channels), LeadTouch.source_ref.in_(values))
        )
        for channel, ref, lead in touched:
            if (channel, ref) in refs:
                found.setdefault((channel, ref or ""), lead)
        own = select(Lead).where(Lead.channel.in_(channels), Lead.source_ref.in_(values))
        found.update(
            {
                (x.channel, x.source_ref or ""): x
                for x in self.session.scalars(own)
                if (x.channel, x.source_ref) in refs
            }
        )
        return found

    def open_leads_of(self, customer_ids: set[str], *, since: datetime) -> dict[tuple[str, str], Lead]:
        """Per (customer, series): the newest open lead created since then."""
        if not customer_ids:
            return {}
        stmt = (
            select(Lead)
            .where(Lead.customer_id.in_(customer_ids), Lead.stage.in_(OPEN_STAGES), Lead.created_at >= since)
            .order_by(Lead.created_at)
        )
        return {(lead.customer_id, lead.series_id): lead for lead in self.session.scalars(stmt)}

    def open_counts_by_dealer(self, dealer_ids: list[str]) -> dict[str, int]:
        if not dealer_ids:
            return {}
        rows = self.session.execute(
            select(Lead.dealer_id, func.count())
            .where(Lead.dealer_id.in_(dealer_ids), Lead.stage.in_(OPEN_STAGES))
            .group_by(Lead.dealer_id)
        )
        return {dealer_id: count for dealer_id, count in rows if dealer_id}

    def consultants_at(self, dealer_id: str) -> list[tuple[User, bool, float, int]]:
        """(consultant, on duty, weight, open leads) for the active sales consultants of a dealer."""
        staff = (
            select(User, ConsultantDuty.on_duty, ConsultantDuty.weight)
            .outerjoin(ConsultantDuty, ConsultantDuty.user_id == User.id)
            .where(User.dealer_id == dealer_id, User.role == Role.SALES_CONSULTANT, User.active.is_(True))
            .order_by(User.username)
        )
        rows = self.session.execute(staff).all()
        # Counted per consultant from the (consultant_id, stage) index alone: a busy dealer's open
        # leads are never read row by row.
        loads = self.session.execute(
            select(Lead.consultant_id, func.count())
            .where(Lead.consultant_id.in_([user.id for user, _, _ in rows]), Lead.stage.in_(OPEN_STAGES))
            .group_by(Lead.consultant_id)
        )
        held: dict[str | None, int] = {consultant: count for consultant, count in loads}
        return [(user, on is not False, weight or 1.0, held.get(user.id, 0)) for user, on, weight in rows]

    def store_manager_of(self, dealer_id: str) -> User | None:
        stmt = (
            select(User)
            .where(User.dealer_id == dealer_id, User.role == Role.STORE_MANAGER, User.active.is_(True))
            .order_by(User.username)
            .limit(1)
        )
        return self.session.scalar(stmt)

    def dealer_states(self, dealer_ids: list[str]) -> dict[str, DealerLeadState]:
        if not dealer_ids:
            return {}
        stmt = select(DealerLeadState).where(DealerLeadState.dealer_id.in_(dealer_ids))
        return {state.dealer_id: state for state in self.session.scalars(stmt)}

    def settings(self) -> LeadSettings:
        settings = self.session.get(LeadSettings, 1)
        if settings is None:
            settings = LeadSettings(id=1)
            self.session.add(settings)
            self.session.flush()
        return settings

    def touches(self, lead_id: str) -> list[LeadTouch]:
        return list(
            self.session.scalars(select(LeadTouch).where(LeadTouch.lead_id == lead_id).order_by(LeadTouch.at))
        )

    def history(self, lead_id: str) -> list[LeadHistory]:
        stmt = (
            select(LeadHistory).where(LeadHistory.lead_id == lead_id).order_by(LeadHistory.at, LeadHistory.id)
        )
        return list(self.session.scalars(stmt))

    def tasks(self, lead_id: str) -> list[FollowUpTask]:
        stmt = select(FollowUpTask).where(FollowUpTask.lead_id == lead_id).order_by(FollowUpTask.due_at)
        return list(self.session.scalars(stmt))

    def breached_holders(self, lead_id: str) -> set[str]:
        """Everyone who already let this lead's first-contact deadline pass."""
        stmt = select(LeadHistory.from_value).where(
            LeadHistory.lead_id == lead_id, LeadHistory.kind == "breach"
        )
        return {user_id for user_id in self.session.scalars(stmt) if user_id}
