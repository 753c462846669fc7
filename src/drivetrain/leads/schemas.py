"""API shapes for leads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from drivetrain.kit.validators import Name, Phone, Text
from drivetrain.leads.models import Channel, Stage


class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name
    phone: Phone
    address: Text | None = Field(default=None, max_length=200)
    city: Text | None = Field(default=None, max_length=40)
    series: Text = Field(min_length=1, max_length=60)
    brand: Text | None = Field(default=None, max_length=60)
    channel: Channel
    campaign: Text | None = Field(default=None, max_length=80)
    source_ref: Text | None = Field(
        default=None, max_length=120, description="The channel's own id; repeats return the first lead"
    )
    click_id: Text | None = Field(default=None, max_length=120)
    utm: dict[str, str] | None = Field(default=None, max_length=10)
    consent_marketing: bool | None = None
    note: Text | None = Field(default=None, max_length=500)


class Explanation(BaseModel):
    code: str
    text: str
    data: dict[str, Any]


class RoutingRead(BaseModel):
    dealer: list[Explanation]
    consultant: list[Explanation]


class LeadRead(BaseModel):
    id: str
    status: Stage
    customer_id: str
    customer_name: str
    phone: str | None
    series: str
    channel: Channel
    campaign: str | None
    dealer_code: str | None
    dealer_name: str | None
    consultant: str | None
    consultant_name: str | None = Field(default=None, description="The consultant's display name")
    routing: RoutingRead
    deduplicated: bool = Field(
        default=False, description="True when this request became a touch on an open lead"
    )
    first_contact_due_at: datetime | None
    first_contacted_at: datetime | None
    sla_breaches: int
    lost_reason: str | None
    created_at: datetime
    updated_at: datetime


class TouchRead(BaseModel):
    at: datetime
    channel: str
    campaign: str | None
    click_id: str | None
    source_ref: str | None
    utm: dict[str, Any]


class HistoryRead(BaseModel):
    at: datetime
    kind: str
    from_value: str | None
    to_value: str | None
    actor: str | None
    reason: str | None


class LeadDetail(LeadRead):
    touches: list[TouchRead]
    history: list[HistoryRead]
    tasks: list[TaskRead]


class StageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Stage
    lost_reason: Text | None = Field(default=None, max_length=200, description="Required when stage is lost")


class Reassignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consultant: Text | None = Field(
        default=None, description="Username at the lead's dealer (or at dealer_code)"
    )
    dealer_code: Text | None = Field(default=None, max_length=20)
    reason: Text = Field(min_length=2, max_length=300)


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_at: datetime
    note: Text = Field(min_length=1, max_length=300)


class TaskRead(BaseModel):
    id: str
    lead_id: str
    due_at: datetime
    note: str
    done_at: datetime | None
    assignee: str | None


class LeadSettingsRead(BaseModel):
    first_contact_seconds: int
    business_hours: bool
    dedupe_window_days: int
    radius_km: float
    max_candidates: int
    load_weight_km: float
    default_capacity: int


class LeadSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_contact_seconds: int | None = Field(default=None, ge=1, le=30 * 24 * 3600)
    business_hours: bool | None = None
    dedupe_window_days: int | None = Field(default=None, ge=0, le=365)
    radius_km: float | None = Field(default=None, gt=0, le=2000)
    max_candidates: int | None = Field(default=None, ge=1, le=50)
    load_weight_km: float | None = Field(default=None, ge=0, le=500)
    default_capacity: int | None = Field(default=None, ge=1, le=100_000)


LeadDetail.model_rebuild()
