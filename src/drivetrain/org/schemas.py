"""API shapes for the dealer network and staff."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class DealerSummary(BaseModel):
    code: str
    name: str
    region: str
    group: str | None
    province: str | None
    city: str | None
    district: str | None


class DealerRead(DealerSummary):
    address: str
    adcode: str | None
    latitude: float | None
    longitude: float | None
    sales_phone: str | None
    service_phone: str | None
    brands: list[str]
    working_hours: dict[str, Any]


class StaffRead(BaseModel):
    username: str
    display_name: str
    role: str
    title: str | None
    dealer_code: str | None
