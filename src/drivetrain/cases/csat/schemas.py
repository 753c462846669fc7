"""API shapes of a case's satisfaction survey."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class SurveyChannel(StrEnum):
    SMS = "sms"
    WECOM = "wecom"


class SurveyStatus(StrEnum):
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"


class CaseSurveyRead(BaseModel):
    channel: SurveyChannel
    status: SurveyStatus
    sent_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    score: int | None = Field(description="1 very dissatisfied … 5 very satisfied")
    comment: str | None
