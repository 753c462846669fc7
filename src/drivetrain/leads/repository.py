"""All lead queries. Every read for a subject starts from ``readable(subject)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import CursorResult, Select, func, select, update

from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import Customer, Vehicle
from drivetrain.db import append_row
from drivetrain.kit import clock
from drivetrain.kit.pagination import keyset
from drivetrain.kit.repository import Repository
from drivetrain.leads.models import (
    OPEN_STAGES,
    ChannelSpend,
    ConsultantDuty,
    DealerLeadState,
    FollowUpTask,
    Lead,
    LeadHistory,
    LeadSettings,
    LeadTouch,
)
from drivetrain.org.models import Brand, Dealer, Series
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

    def breached_holders(self, lead_id: str) -> set[str]:
        """Everyone who already let this lead's first-contact deadline pass."""
        stmt = select(LeadHistory.from_value).where(
            LeadHistory.lead_id == lead_id, LeadHistory.kind == "breach"
        )
        return {user_id for user_id in self.session.scalars(stmt) if user_id}

    # Writes of the lead's own rows.
    def add_history(
        self,
        lead: Lead,
        kind: str,
        *,
        from_value: str | None = None,
        to_value: str | None = None,
        actor: AuthSubject | None = None,
        reason: str | None = None,
    ) -> None:
        """A line of the lead's own history (batched inside ``db.bulk_rows``)."""
        append_row(
            self.session,
            LeadHistory,
            lead_id=lead.id,
            at=clock.now(),
            kind=kind,
            from_value=from_value,
            to_value=to_value,
            actor_id=actor.user_id if actor and actor.user_id else None,
            reason=reason,
        )

    def add_touch(self, lead: Lead, **values: Any) -> None:
        """A channel's contact on the lead (batched inside ``db.bulk_rows``)."""
        append_row(self.session, LeadTouch, lead_id=lead.id, at=clock.now(), **values)

    def pass_on_breach(
        self,
        lead: Lead,
        *,
        holder: str | None,
        due: datetime,
        successor: User | None,
        new_due: datetime | None,
        now: datetime,
    ) -> bool:
        """Pass an overdue lead on, only if it still has the holder and deadline it was read with (a second
        worker or a retry changes nothing); reloads the lead. Whether this call changed it."""
        guarded: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            update(Lead)
            .where(Lead.id == lead.id, Lead.first_contact_due_at == due, Lead.first_contacted_at.is_(None))
            .where(Lead.consultant_id == holder if holder else Lead.consultant_id.is_(None))
            .values(
                consultant_id=successor.id if successor else holder,
                first_contact_due_at=new_due,
                sla_breaches=Lead.sla_breaches + 1,
                assigned_at=now if successor else Lead.assigned_at,
                claimed_by=None,
                claimed_until=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if guarded.rowcount != 1:
            return False
        self.session.refresh(lead)
        return True

    # What leads show and route by from the other rooms (read only).
    def series_and_customer_names(self, lead: Lead) -> tuple[str, str]:
        series = self.session.get(Series, lead.series_id)
        customer = self.session.get(Customer, lead.customer_id)
        return (series.name if series else "", customer.name if customer else "")

    def user(self, user_id: str) -> User | None:
        return self.session.get(User, user_id)

    def username_of(self, user_id: str) -> str | None:
        user = self.session.get(User, user_id)
        return user.username if user else None

    def customer(self, customer_id: str) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def series(self, series_id: str) -> Series | None:
        return self.session.get(Series, series_id)

    def duty(self, user_id: str) -> ConsultantDuty | None:
        return self.session.get(ConsultantDuty, user_id)

    def series_catalog(self) -> tuple[dict[tuple[str, str], Series], dict[str, str]]:
        """Series by (name or English name, brand name), and by (name, "*") for requests naming no brand;
        and brand names by id."""
        catalog: dict[tuple[str, str], Series] = {}
        brands: dict[str, str] = {}
        rows = self.session.execute(
            select(Series, Brand.name).join(Brand, Brand.id == Series.brand_id).order_by(Series.id)
        )
        for series, brand in rows:
            brands[series.brand_id] = brand
            for name in filter(None, (series.name, series.name_en)):
                catalog.setdefault((name, brand), series)
                catalog.setdefault((name, "*"), series)
        return catalog, brands

    def series_choices(self) -> list[tuple[str, str, str | None, str]]:
        """(id, name, English name, brand) of every series, by brand and name: the public catalogue."""
        rows = self.session.execute(
            select(Series.id, Series.name, Series.name_en, Brand.name)
            .join(Brand, Brand.id == Series.brand_id)
            .order_by(Brand.name, Series.name)
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    def relationships(self, customer_ids: set[str]) -> dict[str, tuple[str, ...]]:
        """Per customer: the dealers servicing their cars first, then those that sold them."""
        if not customer_ids:
            return {}
        rows = self.session.execute(
            select(Vehicle.owner_id, Vehicle.servicing_dealer_id, Vehicle.selling_dealer_id).where(
                Vehicle.owner_id.in_(customer_ids)
            )
        ).all()
        found: dict[str, tuple[str, ...]] = {}
        for owner in {owner for owner, _, _ in rows if owner}:
            cars = [(serving, selling) for o, serving, selling in rows if o == owner]
            ordered = [d for d, _ in cars] + [d for _, d in cars]
            found[owner] = tuple(dict.fromkeys(d for d in ordered if d))
        return found

    def customers_by_id(self, ids: set[str]) -> dict[str, Customer]:
        return {c.id: c for c in self.session.scalars(select(Customer).where(Customer.id.in_(ids)))}

    def series_names(self, ids: set[str]) -> dict[str, str]:
        rows = self.session.execute(select(Series.id, Series.name).where(Series.id.in_(ids)))
        return {series_id: name for series_id, name in rows}

    def user_names(self, ids: set[str]) -> dict[str, tuple[str, str]]:
        """Username and display name by user id."""
        if not ids:
            return {}
        rows = self.session.execute(select(User.id, User.username, User.display_name).where(User.id.in_(ids)))
        return {row.id: (row.username, row.display_name) for row in rows}

    def usernames(self, ids: set[str]) -> dict[str, str]:
        rows = self.session.execute(select(User.id, User.username).where(User.id.in_(ids)))
        return {user_id: username for user_id, username in rows}

    def dealer_name(self, dealer_id: str) -> str | None:
        dealer = self.session.get(Dealer, dealer_id)
        return dealer.name if dealer else None

    def spend_between(self, first: date, last: date) -> dict[tuple[date, str, str], ChannelSpend]:
        """Channel spend of these days by (day, channel, campaign)."""
        stmt = select(ChannelSpend).where(ChannelSpend.spend_on.between(first, last))
        return {(s.spend_on, s.channel, s.campaign): s for s in self.session.scalars(stmt)}


class TaskRepository(Repository[FollowUpTask]):
    """Follow-ups: one is visible when its lead is."""

    model = FollowUpTask
    missing = "no such task"

    def readable(self, subject: AuthSubject) -> Select[FollowUpTask]:
        leads = LeadRepository(self.session).readable(subject).with_only_columns(Lead.id)
        return select(FollowUpTask).where(FollowUpTask.lead_id.in_(leads))

    def mine(self, subject: AuthSubject, *, open_only: bool, limit: int) -> list[FollowUpTask]:
        """The subject's own follow-ups, soonest first."""
        stmt = self.readable(subject).where(FollowUpTask.assignee_id == subject.user_id)
        if open_only:
            stmt = stmt.where(FollowUpTask.done_at.is_(None))
        return list(self.session.scalars(stmt.order_by(FollowUpTask.due_at).limit(limit)))

    def of_lead(self, lead_id: str) -> list[FollowUpTask]:
        stmt = select(FollowUpTask).where(FollowUpTask.lead_id == lead_id).order_by(FollowUpTask.due_at)
        return list(self.session.scalars(stmt))
