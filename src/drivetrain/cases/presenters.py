"""Cases shaped for the API and the console: names instead of ids, phones masked unless PII may be read."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.classify import Category, Severity
from drivetrain.cases.csat.service import survey_read
from drivetrain.cases.ladder import RUNG_NAMES
from drivetrain.cases.models import Case, CaseStatus, CaseType, Channel, Priority, Rung
from drivetrain.cases.repository import CaseRepository
from drivetrain.cases.schemas import CaseDetail, CaseHistoryRead, CaseRead
from drivetrain.kit.masking import mask_tail
from drivetrain.org.repository import StaffRepository


def _fields(
    subject: AuthSubject, case: Case, names: dict[str, str], people: dict[str, str], codes: dict[str, str]
) -> dict[str, Any]:
    """``names``: usernames by user id; ``people``: display names by user id; ``codes``: dealer codes."""
    phone = case.phone if case.phone is None or subject.can(Permission.PII_READ) else mask_tail(case.phone)
    return {
        "id": case.id,
        "type": CaseType(case.type),
        "channel": Channel(case.channel),
        "status": CaseStatus(case.status),
        "title": case.title,
        "description": case.description,
        "category": Category(case.category),
        "severity": Severity(case.severity),
        "sentiment": case.sentiment,
        "aspects": list(case.aspects),
        "symptom": case.symptom,
        "priority": Priority(case.priority),
        "escalation_level": case.escalation_level,
        "rung": RUNG_NAMES[Rung(case.escalation_level)],
        "owner": names.get(case.owner_id or ""),
        "owner_name": people.get(case.owner_id or ""),
        "dealer_code": codes.get(case.dealer_id or ""),
        "customer_id": case.customer_id,
        "vehicle_id": case.vehicle_id,
        "phone": phone,
        "vin": case.vin,
        "plate": case.plate,
        "escalation_due_at": case.escalation_due_at,
        "first_response_due_at": case.first_response_due_at,
        "first_responded_at": case.first_responded_at,
        "resolution_due_at": case.resolution_due_at,
        "resolved_at": case.resolved_at,
        "resolution": case.resolution,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


def case_reads(session: Session, subject: AuthSubject, cases: list[Case]) -> list[CaseRead]:
    """A page of cases in two queries: owners' names and dealers' codes."""
    names, people = StaffRepository(session).names({c.owner_id for c in cases if c.owner_id})
    codes = CaseRepository(session).dealer_codes({c.dealer_id for c in cases if c.dealer_id})
    return [CaseRead(**_fields(subject, case, names, people, codes)) for case in cases]


def case_detail(session: Session, subject: AuthSubject, case: Case) -> CaseDetail:
    repo = CaseRepository(session)
    history = repo.history(case.id)
    ids = {case.owner_id} | {i for h in history for i in (h.from_owner_id, h.to_owner_id, h.actor_id)}
    names, people = StaffRepository(session).names({i for i in ids if i})
    codes = repo.dealer_codes({case.dealer_id} if case.dealer_id else set())
    return CaseDetail(
        **_fields(subject, case, names, people, codes),
        history=[
            CaseHistoryRead(
                at=h.at,
                kind=h.kind,
                from_owner=names.get(h.from_owner_id or ""),
                to_owner=names.get(h.to_owner_id or ""),
                level=h.level,
                actor=names.get(h.actor_id or ""),
                to_owner_name=people.get(h.to_owner_id or ""),
                actor_name=people.get(h.actor_id or ""),
                note=h.note,
                held_seconds=h.held_seconds,
            )
            for h in history
        ],
        survey=survey_read(session, case.id),
    )
