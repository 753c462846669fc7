"""API shapes for customers, vehicles, consents and the timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from drivetrain.customers.models import ConsentChannel, ConsentPurpose, ConsentStatus, ContactKind
from drivetrain.kit.validators import Email, IdNumber, Name, Phone, Plate, Text, Vin


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: ConsentPurpose
    channel: ConsentChannel = ConsentChannel.ANY
    status: ConsentStatus
    source: Text = Field(
        min_length=1, max_length=60, description="Where the decision was given: form, hotline, wecom …"
    )


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name
    phone: Phone
    address: Text | None = Field(default=None, max_length=200)
    dealer_code: Text | None = Field(default=None, max_length=20)
    consultant: Text | None = Field(default=None, description="Username of the assigned consultant")
    email: Email | None = None
    id_number: IdNumber | None = None
    gender: Text | None = Field(default=None, pattern="^[mf]$")
    wechat_unionid: Text | None = Field(default=None, max_length=120)
    wecom_external_userid: Text | None = Field(default=None, max_length=120)
    consents: list[ConsentIn] = Field(default_factory=list, max_length=20)
    tags: list[Text] = Field(default_factory=list, max_length=20)
    source: Text | None = Field(default=None, max_length=30)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


class CustomerUpdate(BaseModel):
    """Only the fields sent change; a new ``phone`` becomes primary, the old one stays a contact point."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name | None = None
    phone: Phone | None = None
    address: Text | None = Field(default=None, max_length=200)
    email: Email | None = None
    id_number: IdNumber | None = None
    gender: Text | None = Field(default=None, pattern="^[mf]$")
    dealer_code: Text | None = Field(default=None, max_length=20)
    consultant: str | None = None


class TagsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[Text] = Field(min_length=1, max_length=20)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


def _clean_tags(value: list[str]) -> list[str]:
    cleaned = [tag.strip() for tag in value]
    if any(not tag or len(tag) > 40 for tag in cleaned):
        raise ValueError("each tag must be 1-40 characters")
    return list(dict.fromkeys(cleaned))


class ContactPointRead(BaseModel):
    kind: ContactKind
    value: str
    is_primary: bool


class ConsentRead(BaseModel):
    purpose: ConsentPurpose
    channel: ConsentChannel
    status: ConsentStatus
    at: datetime
    source: str


class CustomerSummary(BaseModel):
    id: str
    name: str
    phone: str | None
    city: str | None
    district: str | None
    dealer_code: str | None
    dealer_name: str | None
    consultant: str | None
    consultant_name: str | None = Field(default=None, description="The consultant's display name")
    created_at: datetime


class CustomerRead(CustomerSummary):
    gender: str | None
    address: str | None
    province: str | None
    adcode: str | None
    id_number: Text | None = Field(description="Only the last 4 characters are ever stored")
    contact_points: list[ContactPointRead]
    consents: list[ConsentRead] = Field(description="The decision in force per purpose and channel")
    tags: list[str]
    vehicles: list[VehicleSummary]
    updated_at: datetime
    masked: bool = Field(description="True when phone and address are masked for your role")


class VehicleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    vin: Vin
    customer_id: str | None = None
    plate: Plate | None = None
    series: Text | None = Field(default=None, max_length=60)
    model_year: int | None = Field(default=None, ge=1990, le=2100)
    purchase_date: date | None = None
    selling_dealer_code: str | None = None
    servicing_dealer_code: str | None = None
    mileage_km: int | None = Field(default=None, ge=0, le=3_000_000)


class VehicleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    plate: Plate | None = None
    mileage_km: int | None = Field(default=None, ge=0, le=3_000_000)
    servicing_dealer_code: str | None = None


class OwnershipTransfer(BaseModel):
    """A resale: the car passes to ``customer_id`` on ``on`` (default today); the old ownership is closed."""

    model_config = ConfigDict(extra="forbid")
    customer_id: str
    on: date | None = None


class OwnershipRead(BaseModel):
    customer_id: str
    customer_name: str
    started_on: date
    ended_on: date | None


class VehicleSummary(BaseModel):
    id: str
    vin: str
    plate: str | None
    series: str | None
    model_year: int | None
    purchase_date: date | None
    owner_id: str | None


class VehicleRead(VehicleSummary):
    brand: str | None
    selling_dealer_code: str | None
    servicing_dealer_code: str | None
    mileage_km: int | None
    ownerships: list[OwnershipRead]
    created_at: datetime


class TimelineEventRead(BaseModel):
    id: str
    at: datetime
    kind: str
    summary: str
    detail: dict[str, Any]
    dealer_code: str | None


CustomerRead.model_rebuild()
