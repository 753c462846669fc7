"""Survey queries. The public page has no subject: the link's token is the key, looked up by its hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update

from drivetrain.auth.models import User
from drivetrain.auth.service import keyed_hash
from drivetrain.cases.models import Case, CaseSurvey
from drivetrain.customers.models import (
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    ContactKind,
    ContactPoint,
    Customer,
)
from drivetrain.customers.repository import CustomerRepository
from drivetrain.kit.repository import Repository
from drivetrain.org.models import Dealer


def token_hash(token: str) -> str:
    return keyed_hash(f"case-survey:{token}")


@dataclass(frozen=True)
class WeComContact:
    """A customer's WeCom external contact and the staff member (a WeCom user) who added them."""

    external_userid: str
    sender: str


@dataclass(frozen=True)
class SurveyPage:
    """What the owner's page shows: the survey, and which case at which store it asks about."""

    survey: CaseSurvey
    case_title: str
    dealer_name: str | None


class SurveyRepository(Repository[CaseSurvey]):
    """Surveys are reached through their case (already read in scope) or their link's token."""

    model = CaseSurvey
    missing = "no such survey"

    def of_case(self, case_id: str) -> CaseSurvey | None:
        return self.session.scalar(select(CaseSurvey).where(CaseSurvey.case_id == case_id))

    def by_token(self, token: str) -> CaseSurvey | None:
        return self.session.scalar(select(CaseSurvey).where(CaseSurvey.token_hash == token_hash(token)))

    def page(self, token: str) -> SurveyPage | None:
        row = self.session.execute(
            select(CaseSurvey, Case.title, Dealer.name)
            .join(Case, Case.id == CaseSurvey.case_id)
            .outerjoin(Dealer, Dealer.id == Case.dealer_id)
            .where(CaseSurvey.token_hash == token_hash(token))
        ).first()
        return SurveyPage(*row) if row else None

    def mark_answered(self, survey_id: str, *, score: int, comment: str | None, at: datetime) -> bool:
        """Guarded on not answered yet: of two answers sent at once, one wins."""
        done: CursorResult[Any] = self.session.execute(  # type: ignore[assignment]
            update(CaseSurvey)
            .where(CaseSurvey.id == survey_id, CaseSurvey.answered_at.is_(None))
            .values(answered_at=at, score=score, comment=comment)
            .execution_options(synchronize_session=False)
        )
        return done.rowcount == 1

    def mobile_of(self, customer_id: str) -> str | None:
        return self.session.scalar(select(Customer.primary_phone).where(Customer.id == customer_id))

    def wecom_contact(self, customer_id: str) -> WeComContact | None:
        """The customer's WeCom contact, when their consultant is a WeCom user who can send to them."""
        row = self.session.execute(
            select(ContactPoint.value, User.wecom_userid)
            .join(Customer, Customer.id == ContactPoint.customer_id)
            .join(User, User.id == Customer.consultant_id)
            .where(
                ContactPoint.customer_id == customer_id,
                ContactPoint.kind == ContactKind.WECOM_EXTERNAL,
                User.active.is_(True),
                User.wecom_userid.is_not(None),
            )
            .order_by(ContactPoint.is_primary.desc(), ContactPoint.created_at.desc())
            .limit(1)
        ).first()
        return WeComContact(row[0], row[1]) if row and row[1] else None

    def declined(self, customer_id: str, channel: ConsentChannel) -> bool:
        """The customer withdrew consent to surveys, on this channel or on any."""
        return any(
            c.purpose == ConsentPurpose.SURVEY
            and c.channel in (channel, ConsentChannel.ANY)
            and c.status == ConsentStatus.WITHDRAWN
            for c in CustomerRepository(self.session).current_consents(customer_id)
        )
