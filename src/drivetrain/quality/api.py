"""/api/v1/quality: defect clusters, components by series, the weekly trend, and emerging-issue alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from drivetrain.auth.deps import SessionDep
from drivetrain.kit import clock
from drivetrain.kit.validators import Text
from drivetrain.quality import presenters, service
from drivetrain.quality.auth import QualityReader, QualityTriager
from drivetrain.quality.models import AlertStatus
from drivetrain.quality.repository import QualityRepository
from drivetrain.quality.schemas import (
    AlertDetail,
    AlertNote,
    AlertRead,
    ClusterList,
    ClusterVehicles,
    ComponentList,
    TrendRead,
)

router = APIRouter(prefix="/quality", tags=["quality"])

MAX_DAYS = 90
MAX_WEEKS = 52
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="The window: this many days up to now")]
SeriesName = Annotated[Text | None, Query(max_length=60, description="A series name, e.g. 锐界")]


@router.get(
    "/clusters", summary="Cases by series, component and symptom in a sliding window, against the baseline"
)
def list_clusters(
    subject: QualityReader,
    session: SessionDep,
    days: Days = service.DEFAULT_THRESHOLDS.window_days,
    series: SeriesName = None,
) -> ClusterList:
    series_id = presenters.series_filter(session, series)
    return presenters.clusters(session, subject, days=days, series_id=series_id, now=clock.now())


@router.get("/clusters/vehicles", summary="The cars (VINs) of one cluster in the window, with their cases")
def cluster_vehicles(
    subject: QualityReader,
    session: SessionDep,
    series: Annotated[Text, Query(min_length=1, max_length=60)],
    component: Annotated[Text, Query(max_length=30)],
    symptom: Annotated[
        Text | None, Query(max_length=20, description="Leave out for the cluster without one")
    ] = None,
    days: Days = service.DEFAULT_THRESHOLDS.window_days,
) -> ClusterVehicles:
    key = presenters.cluster_key(session, series, component, symptom)
    return presenters.cluster_vehicles(session, subject, key, days=days, now=clock.now())


@router.get("/components", summary="Distinct cars per component, by series, in the window")
def list_components(
    subject: QualityReader,
    session: SessionDep,
    days: Days = service.DEFAULT_THRESHOLDS.window_days,
    series: SeriesName = None,
) -> ComponentList:
    series_id = presenters.series_filter(session, series)
    return presenters.components(session, subject, days=days, series_id=series_id, now=clock.now())


@router.get("/trend", summary="Distinct cars per component, week by week (China time, weeks from Monday)")
def weekly_trend(
    subject: QualityReader,
    session: SessionDep,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 12,
    series: SeriesName = None,
) -> TrendRead:
    series_id = presenters.series_filter(session, series)
    return presenters.trend(
        session, subject, weeks=weeks, series_id=series_id, series_name=series or None, now=clock.now()
    )


@router.get("/alerts", summary="Emerging-issue alerts (HQ): open first; empty for dealer-side roles")
def list_alerts(
    subject: QualityReader, session: SessionDep, status: AlertStatus | None = None
) -> list[AlertRead]:
    alerts = QualityRepository(session).alerts(subject, status=status)
    return presenters.alert_reads(session, alerts)


@router.get("/alerts/{alert_id}", summary="An alert with the cars (VINs) affected and their cases")
def get_alert(alert_id: str, subject: QualityReader, session: SessionDep) -> AlertDetail:
    alert = QualityRepository(session).get_readable(subject, alert_id)
    return presenters.alert_detail(session, subject, alert, now=clock.now())


@router.post("/alerts/{alert_id}/acknowledge", summary="Own the investigation, with a note")
def acknowledge_alert(
    alert_id: str, body: AlertNote, subject: QualityTriager, session: SessionDep
) -> AlertRead:
    alert = service.acknowledge(
        session, subject, QualityRepository(session).get_readable(subject, alert_id), note=body.note
    )
    (read,) = presenters.alert_reads(session, [alert])
    return read


@router.post("/alerts/{alert_id}/close", summary="Close with a note; new cases in the cluster reopen it")
def close_alert(alert_id: str, body: AlertNote, subject: QualityTriager, session: SessionDep) -> AlertRead:
    alert = service.close(
        session, subject, QualityRepository(session).get_readable(subject, alert_id), note=body.note
    )
    (read,) = presenters.alert_reads(session, [alert])
    return read
