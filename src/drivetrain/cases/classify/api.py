"""/api/v1/cases/{case_id}/classification: a person corrects the classifier on a case."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from drivetrain.auth.deps import SessionDep
from drivetrain.cases.auth import CaseWorker
from drivetrain.cases.classify import Category, corrections
from drivetrain.cases.repository import CaseRepository

router = APIRouter(tags=["cases"])


class ClassificationCorrect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category
    sentiment: Literal[-1, 0, 1] = Field(description="-1 negative, 0 neutral or mixed, 1 positive")


class CaseClassificationRead(BaseModel):
    case_id: str
    category: Category
    sentiment: int
    corrected: bool = Field(description="False when the case already had this classification")
    corrected_at: datetime | None


@router.post(
    "/cases/{case_id}/classification",
    summary="Correct a case's category and sentiment; `drivetrain classify retrain` learns from it",
)
def correct_classification(
    case_id: str, body: ClassificationCorrect, subject: CaseWorker, session: SessionDep
) -> CaseClassificationRead:
    case = CaseRepository(session).get_readable(subject, case_id)
    correction = corrections.correct(session, subject, case, category=body.category, sentiment=body.sentiment)
    return CaseClassificationRead(
        case_id=case.id,
        category=Category(case.category),
        sentiment=case.sentiment,
        corrected=correction is not None,
        corrected_at=correction.at if correction else None,
    )
