"""The quality console page: emerging-issue alerts, top components by series, the weekly trend, the
clusters of the window, and the affected cars of a chosen cluster or alert with links to their cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep, check_csrf
from drivetrain.auth.roles import Permission
from drivetrain.auth.subject import AuthSubject
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.i18n import locale_of, translator
from drivetrain.kit.validators import Text
from drivetrain.quality import presenters, service
from drivetrain.quality.api import MAX_DAYS
from drivetrain.quality.auth import ConsoleQualityReader, ConsoleQualityTriager
from drivetrain.quality.models import DefectAlert
from drivetrain.quality.repository import QualityRepository
from drivetrain.quality.schemas import AlertNote, ClusterList, ComponentList, TrendRead
from drivetrain.web.templating import render

router = APIRouter(include_in_schema=False)
DAY_CHOICES = (7, 14, 30, 90)
TREND_WEEKS = 12
SHOWN_CLUSTERS = 20
"""Clusters the dashboard lists at once, the largest first; the rest open on a click."""
TOP_SERIES = 8
CsrfField = Annotated[str, Form(max_length=100)]
NoteField = Annotated[str, Form(max_length=600)]
Label = Callable[[str], str]
Triage = Callable[..., DefectAlert]


@dataclass(frozen=True)
class Selection:
    """What the page was asked to show: the window, a series, and a cluster or an alert to open."""

    days: int
    series: str
    alert: str
    component: str
    symptom: str

    def query(self, **changes: str | int) -> str:
        values = {"days": self.days, "series": self.series} | changes
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _component_chart(found: ComponentList, label: Label) -> dict[str, Any]:
    """Stacked bars: the most affected series, each split by component."""
    totals: dict[str, int] = {}
    for row in found.items:
        totals[row.series] = totals.get(row.series, 0) + row.distinct_vins
    series = sorted(totals, key=lambda name: (-totals[name], name))[:TOP_SERIES]
    components = sorted({row.component for row in found.items if row.series in series})
    cars = {(row.series, row.component): row.distinct_vins for row in found.items}
    return {
        "categories": list(reversed(series)),  # ECharts draws a category y-axis bottom-up
        "stacks": [
            {"name": label(c), "data": [cars.get((s, c), 0) for s in reversed(series)]} for c in components
        ],
    }


def _trend_chart(found: TrendRead, label: Label) -> dict[str, Any]:
    return {
        "weeks": [week.strftime("%m-%d") for week in found.weeks],
        "lines": [{"name": label(line.component), "data": line.distinct_vins} for line in found.lines],
    }


def _selected(
    session: Session, subject: AuthSubject, chosen: Selection, found: ClusterList
) -> dict[str, Any] | None:
    """The alert or cluster to open, with its cars; None when none was chosen."""
    now = found.until
    if chosen.alert:
        alert = QualityRepository(session).get_readable(subject, chosen.alert)
        return {"alert": presenters.alert_detail(session, subject, alert, now=now)}
    if chosen.component and chosen.series:
        key = presenters.cluster_key(session, chosen.series, chosen.component, chosen.symptom or None)
        return {"cluster": presenters.cluster_vehicles(session, subject, key, days=chosen.days, now=now)}
    return None


def _render(
    request: Request,
    session: Session,
    subject: AuthSubject,
    chosen: Selection,
    *,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    now = clock.now()
    series_id = presenters.series_filter(session, chosen.series)
    found = presenters.clusters(session, subject, days=chosen.days, series_id=series_id, now=now)
    components = presenters.components(session, subject, days=chosen.days, series_id=series_id, now=now)
    weekly = presenters.trend(
        session, subject, weeks=TREND_WEEKS, series_id=series_id, series_name=chosen.series or None, now=now
    )
    sees_alerts = subject.is_hq
    alerts = (
        presenters.alert_reads(session, QualityRepository(session).alerts(subject)) if sees_alerts else []
    )
    t = translator(locale_of(request))

    def label(component: str) -> str:
        return str(t(f"category.{component}"))

    context = {
        "chosen": chosen,
        "day_choices": DAY_CHOICES,
        "series_names": sorted(QualityRepository(session).series_names().values()),
        "clusters": found,
        "shown_clusters": SHOWN_CLUSTERS,
        "alerts": alerts,
        "sees_alerts": sees_alerts,
        "can_triage": subject.can(Permission.QUALITY_TRIAGE),
        "selected": _selected(session, subject, chosen, found),
        "charts": {"components": _component_chart(components, label), "trend": _trend_chart(weekly, label)},
        "errors": errors or {},
    }
    return render(request, "quality/dashboard.html", context, subject=subject, status=422 if errors else 200)


@router.get("/quality")
def dashboard(
    request: Request,
    subject: ConsoleQualityReader,
    session: SessionDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = service.DEFAULT_THRESHOLDS.window_days,
    series: Annotated[Text, Query(max_length=60)] = "",
    alert: Annotated[Text, Query(max_length=40)] = "",
    component: Annotated[Text, Query(max_length=30)] = "",
    symptom: Annotated[Text, Query(max_length=20)] = "",
) -> HTMLResponse:
    chosen = Selection(
        days=days, series=series.strip(), alert=alert.strip(), component=component, symptom=symptom
    )
    return _render(request, session, subject, chosen)


def _note_of(note: str) -> str:
    """The form's note through the API's own schema, so the console refuses what the API refuses."""
    try:
        return AlertNote.model_validate({"note": note}).note
    except ValidationError:
        raise InvalidInput("note", "say what was found or decided") from None


def _triage(
    request: Request, session: Session, subject: AuthSubject, alert_id: str, act: Triage, note: str, csrf: str
) -> Response:
    """Acknowledge or close from the alert's panel; a missing note comes back next to the form."""
    alert = QualityRepository(session).get_readable(subject, alert_id)
    check_csrf(request, csrf)
    try:
        act(session, subject, alert, note=_note_of(note))
    except InvalidInput as error:
        chosen = Selection(service.DEFAULT_THRESHOLDS.window_days, "", alert.id, "", "")
        return _render(request, session, subject, chosen, errors={error.field: error.reason})
    return RedirectResponse(f"/quality?alert={alert.id}#vins", status_code=303)


@router.post("/quality/alerts/{alert_id}/acknowledge")
def acknowledge(
    request: Request,
    alert_id: str,
    subject: ConsoleQualityTriager,
    session: SessionDep,
    csrf_token: CsrfField = "",
    note: NoteField = "",
) -> Response:
    return _triage(request, session, subject, alert_id, service.acknowledge, note, csrf_token)


@router.post("/quality/alerts/{alert_id}/close")
def close(
    request: Request,
    alert_id: str,
    subject: ConsoleQualityTriager,
    session: SessionDep,
    csrf_token: CsrfField = "",
    note: NoteField = "",
) -> Response:
    return _triage(request, session, subject, alert_id, service.close, note, csrf_token)
