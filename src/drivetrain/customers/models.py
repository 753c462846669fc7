"""A customer (person), how to reach them, what they agreed to, the cars they own, and their timeline."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin, TimestampMixin


class ContactKind(StrEnum):
    MOBILE = "mobile"
    EMAIL = "email"
    WECOM_EXTERNAL = "wecom_external"
    WECHAT_UNIONID = "wechat_unionid"


class ConsentPurpose(StrEnum):
    MARKETING = "marketing"
    SERVICE = "service"
    SURVEY = "survey"
    DATA_SHARING = "data_sharing"


class ConsentChannel(StrEnum):
    ANY = "any"
    SMS = "sms"
    PHONE = "phone"
    WECOM = "wecom"
    EMAIL = "email"
    MINI_PROGRAM = "mini_program"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class Customer(IdMixin, TimestampMixin, Base):
    """A person. ``dealer_id``: the owning dealer (None: held by HQ); ``consultant_id``: the assigned one."""

    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_dealer_id_id", "dealer_id", "id"),
        Index("ix_customer_consultant_id_id", "consultant_id", "id"),
        Index("ix_customer_city_id", "city", "id"),
    )
    name: Mapped[str] = mapped_column(String(60), index=True)
    gender: Mapped[str | None] = mapped_column(String(1))  # m | f
    primary_phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(30))
    district: Mapped[str | None] = mapped_column(String(30))
    adcode: Mapped[str | None] = mapped_column(String(6))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number_last4: Mapped[str | None] = mapped_column(String(4))
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"))
    consultant_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    source: Mapped[str | None] = mapped_column(String(30))
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)
    """Set when this person was merged into another customer: the row stays, for unmerge and old links."""
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    """Golden-record field -> where its value came from: ``{"source", "record_id", "rule", "at"}``.
    A field without an entry was entered in Drivetrain itself."""

    contact_points: Mapped[list[ContactPoint]] = relationship(
        back_populates="customer", lazy="raise", cascade="all, delete-orphan"
    )


class ContactPoint(IdMixin, Base):
    __tablename__ = "contact_point"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "value"),
        Index("ix_contact_point_kind_value", "kind", "value"),
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(120))
    is_primary: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    customer: Mapped[Customer] = relationship(back_populates="contact_points", lazy="raise")


class Consent(IdMixin, Base):
    """One consent decision (PIPL). The latest row per purpose and channel is in force; history is kept."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_customer_purpose", "customer_id", "purpose", "channel", "at"),)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    customer: Mapped[Customer] = relationship(lazy="raise")  # for insert order; never loaded
    purpose: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    source: Mapped[str] = mapped_column(String(60))
    recorded_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))


class Tag(IdMixin, Base):
    __tablename__ = "tag"
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="manual")  # manual | rule


class CustomerTag(Base):
    __tablename__ = "customer_tag"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(
        ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    added_by: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))


class Vehicle(IdMixin, TimestampMixin, Base):
    __tablename__ = "vehicle"
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    plate: Mapped[str | None] = mapped_column(String(10), index=True)
    brand_id: Mapped[str | None] = mapped_column(ForeignKey("brand.id"))
    series_id: Mapped[str | None] = mapped_column(ForeignKey("series.id"), index=True)
    model_year: Mapped[int | None] = mapped_column(Integer)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    selling_dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"), index=True)
    servicing_dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"), index=True)
    mileage_km: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)


class Ownership(IdMixin, Base):
    """Who owned a car from when to when: a resold car gets a new row, the old one is closed, not deleted."""

    __tablename__ = "ownership"
    __table_args__ = (Index("ix_ownership_vehicle_started", "vehicle_id", "started_on"),)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicle.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)


class TimelineEvent(IdMixin, Base):
    """Something that happened to a customer. Every domain writes here; the 360 page reads it."""

    __tablename__ = "timeline_event"
    __table_args__ = (Index("ix_timeline_customer_at", "customer_id", "at"),)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    customer: Mapped[Customer] = relationship(lazy="raise")  # for insert order; never loaded
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("dealer.id"))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    source_record_id: Mapped[str | None] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), unique=True
    )
    """The source record this event was projected from (a purchase in the DMS, a policy from the insurer)."""
