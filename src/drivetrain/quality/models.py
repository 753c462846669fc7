"""Emerging-issue alerts raised from clusters of owner cases."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from drivetrain.db import Base, UTCDateTime
from drivetrain.kit import clock
from drivetrain.kit.model_mixins import IdMixin


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class DefectAlert(IdMixin, Base):
    """An emerging issue: a (series, component, symptom) cluster whose distinct VINs passed the threshold
    while its rate beat the series' baseline. One row per cluster; a closed cluster coming back reopens."""

    __tablename__ = "defect_alert"
    __table_args__ = (UniqueConstraint("series_id", "component", "symptom"),)
    series_id: Mapped[str] = mapped_column(ForeignKey("series.id"))
    component: Mapped[str] = mapped_column(String(30))
    symptom: Mapped[str] = mapped_column(String(20))
    """'' when the cases name no symptom: the cluster is the component alone."""
    status: Mapped[str] = mapped_column(String(12), default=AlertStatus.OPEN, index=True)
    first_raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    window_days: Mapped[int] = mapped_column(Integer)
    distinct_vins: Mapped[int] = mapped_column(Integer)
    rate_per_day: Mapped[float] = mapped_column(Float)
    baseline_per_day: Mapped[float] = mapped_column(Float)
    acknowledged_by_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str | None] = mapped_column(String(500))
