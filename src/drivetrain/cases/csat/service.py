"""Send the survey when a case is resolved, and take the owner's answer. No HTTP, no commit.

The message leaves through the outbox in the resolving transaction: by SMS to the case's mobile
(or the customer's), else by WeCom through the consultant the customer added. A case gets one survey
in its life, so a case resolved again after reopening is not asked twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.csat.repository import SurveyRepository, token_hash
from drivetrain.cases.csat.schemas import CaseSurveyRead, SurveyChannel, SurveyStatus
from drivetrain.cases.models import Case, CaseHistory, CaseSurvey, CaseType
from drivetrain.cases.notices import stored_text
from drivetrain.cases.repository import CaseRepository
from drivetrain.config import get_settings
from drivetrain.customers.models import ConsentChannel
from drivetrain.customers.service import add_timeline
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, DomainError, InvalidInput, NotFound
from drivetrain.kit.phone import is_mobile

SMS_TOPIC = "sms.send"
WECOM_CUSTOMER_TOPIC = "wecom.customer_message"
SURVEY_VALID = timedelta(days=14)
TOKEN_BYTES = 16  # 22 characters: fits an SMS template variable (at most 35)
SCORES = range(1, 6)
COMMENT_LENGTH = 500

SURVEY_SUBJECT = AuthSubject(
    user_id="",
    username="case_survey",
    display_name="满意度回访",
    role=Role.INTEGRATION,
    via="public",
)
"""Who an owner's answer is audited as: nobody signs in, the link's token is the key."""


class SurveyExpired(DomainError):
    status = 410
    title = "Survey expired"
    type_slug = "survey-expired"


@dataclass(frozen=True)
class Outgoing:
    channel: SurveyChannel
    topic: str
    payload: dict[str, Any]


def survey_link(token: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/survey/{token}"


def _outgoing(repo: SurveyRepository, case: Case, token: str) -> Outgoing | None:
    """SMS to a mobile when there is one, else WeCom; None when the owner cannot be reached or said no."""
    customer_id = case.customer_id
    phone = case.phone or (repo.mobile_of(customer_id) if customer_id else None)
    link = survey_link(token)
    if phone and is_mobile(phone) and not (customer_id and repo.declined(customer_id, ConsentChannel.SMS)):
        payload = {
            "to": phone,
            "template": get_settings().sms_csat_template,
            "params": {"token": token},
            "link": link,  # what the approved template renders: the link is fixed text there
            "out_id": case.id,
        }
        return Outgoing(SurveyChannel.SMS, SMS_TOPIC, payload)
    contact = repo.wecom_contact(customer_id) if customer_id else None
    if contact is None or (customer_id and repo.declined(customer_id, ConsentChannel.WECOM)):
        return None
    text = stored_text("cases.stored.csat.wecom", title=case.title, link=link)
    payload = {"sender": contact.sender, "to": [contact.external_userid], "text": text, "case_id": case.id}
    return Outgoing(SurveyChannel.WECOM, WECOM_CUSTOMER_TOPIC, payload)


def send_survey(session: Session, case: Case) -> CaseSurvey | None:
    """Call when ``case`` has just been resolved, in the same transaction. None when no survey goes out:
    a supplier case, one already surveyed, or an owner without mobile or WeCom (or who declined)."""
    repo = SurveyRepository(session)
    if case.type == CaseType.SUPPLIER or repo.of_case(case.id) is not None:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    outgoing = _outgoing(repo, case, token)
    if outgoing is None:
        return None
    now = clock.now()
    survey = CaseSurvey(
        case_id=case.id,
        token_hash=token_hash(token),
        channel=outgoing.channel.value,
        sent_at=now,
        expires_at=now + SURVEY_VALID,
    )
    session.add(survey)
    outbox.enqueue(session, outgoing.topic, outgoing.payload)
    session.add(
        CaseHistory(
            case_id=case.id, at=now, kind="csat_sent", level=case.escalation_level, note=survey.channel
        )
    )
    if case.customer_id:
        add_timeline(
            session,
            customer_id=case.customer_id,
            kind="case.csat_sent",
            summary=stored_text("cases.stored.timeline.csat_sent", title=case.title),
            dealer_id=case.dealer_id,
            detail={"case_id": case.id, "channel": survey.channel},
        )
    session.flush()
    return survey


def _clean_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    if any(ord(char) < 32 and char not in "\t\n\r" for char in comment):
        raise InvalidInput("comment", "must not contain control characters")
    text = comment.strip()
    if len(text) > COMMENT_LENGTH:
        raise InvalidInput("comment", f"at most {COMMENT_LENGTH} characters")
    return text or None


def answer(session: Session, *, token: str, score: int, comment: str | None) -> CaseSurvey:
    """The owner's answer, once: a second answer is a conflict, an expired link says so (410)."""
    if score not in SCORES:
        raise InvalidInput("score", "choose 1 (very dissatisfied) to 5 (very satisfied)")
    text = _clean_comment(comment)
    repo = SurveyRepository(session)
    survey = repo.by_token(token)
    if survey is None:
        raise NotFound("no such survey")
    if survey.answered_at is not None:
        raise Conflict("this survey was already answered")
    now = clock.now()
    if now >= survey.expires_at:
        raise SurveyExpired(f"this survey link expired at {survey.expires_at.isoformat()}")
    if not repo.mark_answered(survey.id, score=score, comment=text, at=now):
        raise Conflict("this survey was already answered")
    session.refresh(survey)
    case = CaseRepository(session).by_id(survey.case_id)
    assert case is not None  # the survey's foreign key cascades with its case
    _record_answer(session, case, survey)
    return survey


def _record_answer(session: Session, case: Case, survey: CaseSurvey) -> None:
    detail = {"score": survey.score, "comment": survey.comment}
    session.add(
        CaseHistory(
            case_id=case.id,
            at=survey.answered_at,
            kind="csat",
            level=case.escalation_level,
            note=f"CSAT {survey.score}/5",
            detail=detail,
        )
    )
    if case.customer_id:
        add_timeline(
            session,
            customer_id=case.customer_id,
            kind="case.csat",
            summary=stored_text("cases.stored.timeline.csat", score=survey.score, title=case.title),
            actor=SURVEY_SUBJECT,
            dealer_id=case.dealer_id,
            detail={"case_id": case.id} | detail,
        )
    payload = {"case_id": case.id, "title": case.title} | detail
    events.publish(session, "case.csat", recipients=[case.owner_id], payload=payload)
    audit.record(
        session,
        SURVEY_SUBJECT,
        action="case.csat",
        entity_type="case",
        entity_id=case.id,
        dealer_id=case.dealer_id,
        changes={"score": [None, survey.score], "comment": [None, survey.comment]},
    )
    session.flush()


def survey_read(session: Session, case_id: str) -> CaseSurveyRead | None:
    """The case's survey for showing on the case; the caller has read the case in scope."""
    survey = SurveyRepository(session).of_case(case_id)
    if survey is None:
        return None
    if survey.answered_at is not None:
        status = SurveyStatus.ANSWERED
    else:
        status = SurveyStatus.EXPIRED if clock.now() >= survey.expires_at else SurveyStatus.SENT
    return CaseSurveyRead(
        channel=SurveyChannel(survey.channel),
        status=status,
        sent_at=survey.sent_at,
        expires_at=survey.expires_at,
        answered_at=survey.answered_at,
        score=survey.score,
        comment=survey.comment,
    )
