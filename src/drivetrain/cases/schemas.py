"""API shapes for cases."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from drivetrain.cases.classify import Aspect, Category, Severity
from drivetrain.cases.csat.schemas import CaseSurveyRead
from drivetrain.cases.models import CaseStatus, CaseType, Channel, Priority
from drivetrain.kit.validators import Phone, Plate, Text, Vin


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: Text = Field(
        min_length=1, max_length=5000, description="An owner's message, Simplified or Traditional"
    )


class ClassificationRead(BaseModel):
    text: str = Field(description="The text as classified: Simplified, half-width, whitespace collapsed")
    category: Category
    severity: Severity
    sentiment: int = Field(ge=-1, le=1, description="-1 negative, 0 neutral or mixed, 1 positive")
    aspects: list[Aspect] = Field(description="BDCI 2018 product aspects the text talks about")


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    description: Text = Field(min_length=1, max_length=5000, description="Simplified or Traditional")
    title: Text | None = Field(default=None, max_length=120)
    phone: Phone | None = None
    vin: Vin | None = None
    plate: Plate | None = None
    channel: Channel
    dealer_code: Text | None = Field(default=None, max_length=20)
    type: CaseType | None = Field(default=None, description="Default: complaint when negative or urgent")


class CaseHistoryRead(BaseModel):
    at: datetime
    kind: str
    from_owner: str | None
    to_owner: str | None
    level: int
    actor: str | None
    to_owner_name: str | None = Field(default=None, description="The new holder's display name")
    actor_name: str | None = Field(default=None, description="The actor's display name")
    note: str | None
    held_seconds: int | None = Field(description="How long the previous owner held the case")


class CaseRead(BaseModel):
    id: str
    type: CaseType
    channel: Channel
    status: CaseStatus
    title: str
    description: str
    category: Category
    severity: Severity
    sentiment: int
    aspects: list[str]
    symptom: str | None = Field(description="The symptom named (异响, 漏油 …): a key of defect clusters")
    priority: Priority
    escalation_level: int = Field(
        description="0 assignee, 1 store manager, 2 regional manager, 3 HQ ops, 4 CEO"
    )
    rung: str
    owner: str | None = Field(description="Username of the holder")
    owner_name: str | None = Field(default=None, description="The holder's display name")
    dealer_code: str | None
    customer_id: str | None
    vehicle_id: str | None
    phone: str | None
    vin: str | None
    plate: str | None
    escalation_due_at: datetime | None
    first_response_due_at: datetime | None
    first_responded_at: datetime | None = Field(description="When staff first answered the customer")
    resolution_due_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    created_at: datetime
    updated_at: datetime


class CaseDetail(CaseRead):
    history: list[CaseHistoryRead]
    survey: CaseSurveyRead | None = Field(
        description="The satisfaction survey sent on resolution, and its answer"
    )


class CaseStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    status: Literal["open", "waiting_customer", "resolved"]
    note: Text | None = Field(default=None, max_length=500, description="Required to resolve")


class CaseNote(BaseModel):
    """A note on the case; with ``contacted_customer`` it records that staff answered the customer,
    which is what the first-response SLA measures."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: Text = Field(min_length=1, max_length=500)
    contacted_customer: bool = False


class SlaPolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_response_seconds: int = Field(ge=1, le=90 * 24 * 3600)
    resolution_seconds: int = Field(ge=1, le=365 * 24 * 3600)
    escalation_seconds: int = Field(ge=1, le=90 * 24 * 3600, description="Each rung's budget")
    business_hours: bool = Field(description="Count business hours only; critical is always 24x7")


class SlaPolicyRead(SlaPolicyUpdate):
    priority: Priority
    updated_at: datetime
