"""/api/v1/classify: the feedback classifier on its own, for channels that sort before they file."""

from __future__ import annotations

from fastapi import APIRouter

from drivetrain.auth.deps import SubjectDep
from drivetrain.cases.classify import classify
from drivetrain.cases.schemas import ClassificationRead, ClassifyRequest

router = APIRouter(tags=["cases"])


@router.post("/classify", summary="Category, severity, sentiment and product aspects of a message")
def classify_text(body: ClassifyRequest, subject: SubjectDep) -> ClassificationRead:
    """Any signed-in caller may classify: it reads no stored data and stores nothing."""
    found = classify(body.text)
    return ClassificationRead(
        text=found.text,
        category=found.category,
        severity=found.severity,
        sentiment=found.sentiment,
        aspects=list(found.aspects),
    )
