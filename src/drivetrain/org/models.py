"""The OEM, its brands and series, and the dealer network it sells through."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from drivetrain.db import Base
from drivetrain.kit.model_mixins import IdMixin, TimestampMixin

dealer_brand = Table(
    "dealer_brand",
    Base.metadata,
    Column("dealer_id", ForeignKey("dealer.id", ondelete="CASCADE"), primary_key=True),
    Column("brand_id", ForeignKey("brand.id", ondelete="CASCADE"), primary_key=True),
)


class Oem(IdMixin, TimestampMixin, Base):
    """The car maker: the tenant that owns the network."""

    __tablename__ = "oem"
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Brand(IdMixin, Base):
    __tablename__ = "brand"
    oem_id: Mapped[str] = mapped_column(ForeignKey("oem.id"), index=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    vin_wmi: Mapped[str | None] = mapped_column(String(3))


class Series(IdMixin, Base):
    """车系, e.g. 福克斯."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)
    brand_id: Mapped[str] = mapped_column(ForeignKey("brand.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str | None] = mapped_column(String(60))
    powertrain: Mapped[str] = mapped_column(String(10), default="ice")  # ice | hev | phev | bev
    brand: Mapped[Brand] = relationship(lazy="raise")


class CarModel(IdMixin, Base):
    """车型: one sellable configuration of a series in a model year."""

    __tablename__ = "car_model"
    __table_args__ = (UniqueConstraint("series_id", "name", "model_year"),)
    series_id: Mapped[str] = mapped_column(ForeignKey("series.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    model_year: Mapped[int] = mapped_column(Integer)


class Region(IdMixin, Base):
    """大区."""

    __tablename__ = "region"
    oem_id: Mapped[str] = mapped_column(ForeignKey("oem.id"), index=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class DealerGroup(IdMixin, Base):
    """经销商集团: owns several stores."""

    __tablename__ = "dealer_group"
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Dealer(IdMixin, TimestampMixin, Base):
    """A 4S store."""

    __tablename__ = "dealer"
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("region.id"), index=True)
    area_code: Mapped[str | None] = mapped_column(String(10))
    group_id: Mapped[str | None] = mapped_column(ForeignKey("dealer_group.id"), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    province: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(30), index=True)
    district: Mapped[str | None] = mapped_column(String(30))
    adcode: Mapped[str | None] = mapped_column(String(6))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    sales_phone: Mapped[str | None] = mapped_column(String(60))
    service_phone: Mapped[str | None] = mapped_column(String(60))
    working_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    region: Mapped[Region] = relationship(lazy="raise")
    group: Mapped[DealerGroup | None] = relationship(lazy="raise")
    brands: Mapped[list[Brand]] = relationship(secondary=dealer_brand, lazy="raise")


DEFAULT_WORKING_HOURS: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "days": {d: ["08:30", "18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}
