"""API shapes for defect clusters, trends and emerging-issue alerts."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from drivetrain.kit.validators import Text
from drivetrain.quality.models import AlertStatus


class ClusterRead(BaseModel):
    series: str
    component: str = Field(description="A product category of the case classifier: engine, brakes …")
    symptom: str | None = Field(description="异响, 漏油 …; None when the cases name no symptom")
    distinct_vins: int = Field(description="Cars with cases in the window; one car complaining twice is one")
    cases: int = Field(description="Cases in the window")
    rate_per_day: float = Field(description="distinct_vins per day of the window")
    baseline_per_day: float = Field(
        description="Distinct cars per day in the baseline period before the window"
    )
    threshold_per_day: float = Field(description="The rate the window must reach to be an emerging issue")
    emerging: bool = Field(
        description="Enough cars, arriving fast enough: for HQ this is what raises an alert; for a dealer "
        "the same arithmetic on its own cases"
    )
    last_case_at: datetime | None


class ClusterList(BaseModel):
    window_start: datetime
    baseline_start: datetime
    until: datetime
    window_days: int
    baseline_days: int
    min_vins: int
    rate_ratio: float
    items: list[ClusterRead]


class ComponentRow(BaseModel):
    series: str
    component: str
    distinct_vins: int


class ComponentList(BaseModel):
    since: datetime
    until: datetime
    items: list[ComponentRow]


class TrendLine(BaseModel):
    component: str
    distinct_vins: list[int] = Field(description="Distinct cars per week, one number per week of ``weeks``")


class TrendRead(BaseModel):
    weeks: list[date] = Field(description="The Monday each week starts on, China time; the last is this week")
    series: str | None
    lines: list[TrendLine]


class AffectedCaseRead(BaseModel):
    id: str
    created_at: datetime
    dealer_code: str | None
    status: str
    title: str


class AffectedVehicleRead(BaseModel):
    vin: str
    cases: list[AffectedCaseRead] = Field(description="Newest first")


class ClusterVehicles(BaseModel):
    series: str
    component: str
    symptom: str | None
    since: datetime
    until: datetime
    vehicles: list[AffectedVehicleRead]


class AlertRead(BaseModel):
    id: str
    series: str
    component: str
    symptom: str | None
    status: AlertStatus
    first_raised_at: datetime
    last_seen_at: datetime = Field(description="When the refresh last found the cluster emerging")
    window_days: int
    distinct_vins: int
    rate_per_day: float
    baseline_per_day: float
    acknowledged_by: str | None = Field(description="Username of whoever acknowledged it")
    note: str | None


class AlertDetail(AlertRead):
    vehicles: list[AffectedVehicleRead] = Field(
        description="The cars with cases in the alert's window up to now, newest case first"
    )


class AlertNote(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: Text = Field(min_length=1, max_length=500, description="What was found or decided")
