"""People correcting the classifier on a case; ``drivetrain classify retrain`` learns from the corrections.

The correction keeps the case's text as it was classified, so retraining sees exactly what the
classifier saw. Only a case's latest correction teaches: a second fix replaces the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import AuthSubject
from drivetrain.cases.classify import Category
from drivetrain.cases.models import Case, CaseHistory, ClassificationCorrection
from drivetrain.cases.repository import CorrectionRepository
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput

if TYPE_CHECKING:
    from drivetrain.cases.classify.training import LabelledText

SENTIMENTS = (-1, 0, 1)


def training_examples(session: Session) -> list[LabelledText]:
    """The stored corrections as examples for ``training.train(extra_labelled=…)``."""
    from drivetrain.cases.classify.training import LabelledText

    return [
        LabelledText(text=c.text, category=c.category, sentiment=c.sentiment)
        for c in CorrectionRepository(session).latest_per_case()
    ]


def correct(
    session: Session, subject: AuthSubject, case: Case, *, category: Category, sentiment: int
) -> ClassificationCorrection | None:
    """Fix the case's category and sentiment; None when they already were these (nothing is written)."""
    if sentiment not in SENTIMENTS:
        raise InvalidInput("sentiment", "-1 negative, 0 neutral or 1 positive")
    before = {"category": case.category, "sentiment": case.sentiment}
    after = {"category": category.value, "sentiment": sentiment}
    changes = audit.diff(before, after)
    if not changes:
        return None
    now = clock.now()
    correction = ClassificationCorrection(
        case_id=case.id,
        text=case.description,
        category=category.value,
        sentiment=sentiment,
        corrected_by_id=subject.user_id or None,
        at=now,
    )
    case.category, case.sentiment, case.updated_at = category.value, sentiment, now
    session.add(correction)
    session.add(
        CaseHistory(
            case_id=case.id,
            at=now,
            kind="reclassified",
            level=case.escalation_level,
            actor_id=subject.user_id or None,
            note=f"{before['category']}/{before['sentiment']} → {category.value}/{sentiment}",
        )
    )
    audit.record(
        session,
        subject,
        action="case.reclassify",
        entity_type="case",
        entity_id=case.id,
        dealer_id=case.dealer_id,
        changes=changes,
    )
    session.flush()
    return correction
