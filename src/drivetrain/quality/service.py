"""Emerging-issue alerts: raised, kept current and reopened by the refresh; acknowledged and closed by
people. No HTTP, no commit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from drivetrain.auth import audit
from drivetrain.auth.subject import SYSTEM, AuthSubject
from drivetrain.jobs import events, outbox
from drivetrain.kit import clock
from drivetrain.kit.errors import Conflict, InvalidInput
from drivetrain.quality.models import AlertStatus, DefectAlert
from drivetrain.quality.repository import QualityRepository
from drivetrain.quality.signals import Signal, Thresholds, emerging

DEFAULT_THRESHOLDS = Thresholds()
REFRESHER = dataclasses.replace(SYSTEM, username="worker", display_name="worker", via="worker")
"""Who the refresh acts as in the audit log."""
ALERT_EVENT = "quality.alert"
WECOM_TOPIC = "wecom.app_message"
NOTE_LENGTH = 500
COMPONENT_NAMES_ZH = {
    "engine": "发动机",
    "transmission": "变速箱",
    "steering": "转向",
    "brakes": "制动",
    "tyres_wheels": "轮胎轮毂",
    "suspension": "悬挂",
    "body_electrical": "车身电器",
    "battery_charging": "电池与充电",
    "infotainment_software": "车机软件",
    "adas": "辅助驾驶",
}
NUMBERS = ("window_days", "distinct_vins", "rate_per_day", "baseline_per_day")


@dataclass(frozen=True)
class RefreshResult:
    raised: int = 0
    reopened: int = 0
    updated: int = 0

    @property
    def changed(self) -> int:
        return self.raised + self.reopened + self.updated


def _numbers(alert: DefectAlert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in NUMBERS}


def _numbers_of(signal: Signal, thresholds: Thresholds) -> dict[str, Any]:
    return {
        "window_days": thresholds.window_days,
        "distinct_vins": signal.distinct_vins,
        "rate_per_day": signal.rate_per_day,
        "baseline_per_day": signal.baseline_per_day,
    }


def _notify(session: Session, alert: DefectAlert, series_name: str) -> None:
    """Quality engineers hear of a new or returning emerging issue: live in the console, and on WeCom."""
    engineers = QualityRepository(session).quality_engineers()
    symptom = f" · {alert.symptom}" if alert.symptom else ""
    component = COMPONENT_NAMES_ZH.get(alert.component, alert.component)
    payload = {
        "alert_id": alert.id,
        "series": series_name,
        "component": alert.component,
        "symptom": alert.symptom or None,
        "distinct_vins": alert.distinct_vins,
        "status": alert.status,
    }
    events.publish(session, ALERT_EVENT, recipients=[uid for uid, _ in engineers], payload=payload)
    wecom = [w for _, w in engineers if w]
    if wecom:
        text = (
            f"质量预警：{series_name} · {component}{symptom}，近 {alert.window_days} 天 "
            f"{alert.distinct_vins} 台车投诉（{alert.rate_per_day:g} 台/天，"
            f"基线 {alert.baseline_per_day:g} 台/天）"
        )
        outbox.enqueue(session, WECOM_TOPIC, {"to": wecom, "text": text, "alert_id": alert.id})


def _raise(session: Session, signal: Signal, thresholds: Thresholds, now: datetime) -> DefectAlert:
    alert = DefectAlert(
        series_id=signal.key.series_id,
        component=signal.key.component,
        symptom=signal.key.symptom,
        status=AlertStatus.OPEN.value,
        first_raised_at=now,
        last_seen_at=now,
        **_numbers_of(signal, thresholds),
    )
    session.add(alert)
    session.flush()
    audit.record(
        session,
        REFRESHER,
        action="quality.alert.raise",
        entity_type="defect_alert",
        entity_id=alert.id,
        changes=audit.diff({}, {"status": alert.status, **_numbers(alert)}),
    )
    return alert


def _reopen(
    session: Session, alert: DefectAlert, signal: Signal, thresholds: Thresholds, now: datetime
) -> None:
    before = {"status": alert.status, **_numbers(alert)}
    for name, value in _numbers_of(signal, thresholds).items():
        setattr(alert, name, value)
    alert.status, alert.last_seen_at = AlertStatus.OPEN.value, now
    after = {"status": alert.status, **_numbers(alert)}
    audit.record(
        session,
        REFRESHER,
        action="quality.alert.reopen",
        entity_type="defect_alert",
        entity_id=alert.id,
        changes=audit.diff(before, after),
    )


def _update(
    session: Session, alert: DefectAlert, signal: Signal, thresholds: Thresholds, now: datetime
) -> bool:
    """New numbers for a live alert; audited when the numbers changed. Whether they did."""
    before, after = _numbers(alert), _numbers_of(signal, thresholds)
    alert.last_seen_at = now
    if before == after:
        return False
    for name, value in after.items():
        setattr(alert, name, value)
    audit.record(
        session,
        REFRESHER,
        action="quality.alert.update",
        entity_type="defect_alert",
        entity_id=alert.id,
        changes=audit.diff(before, after),
    )
    return True


def refresh_alerts(
    session: Session, *, now: datetime, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> RefreshResult:
    """Count every cluster as of ``now`` and bring the alerts in line: a new emerging cluster raises an
    alert; a live one (open or acknowledged) gets its numbers and ``last_seen_at``; a closed one reopens
    when the cluster is emerging again with a case newer than the close. A cluster that cooled down keeps
    its alert as it was, for a person to close. Running it again at the same ``now`` changes nothing."""
    repo = QualityRepository(session)
    counts = repo.cluster_counts(
        SYSTEM,
        window_start=thresholds.window_start(now),
        baseline_start=thresholds.baseline_start(now),
        until=now,
    )
    hot = emerging(counts, thresholds)
    known = repo.alerts_of(signal.key for signal in hot)
    series = repo.series_names() if hot else {}
    raised = reopened = updated = 0
    for signal in hot:
        alert = known.get(signal.key)
        if alert is None:
            alert = _raise(session, signal, thresholds, now)
            _notify(session, alert, series.get(alert.series_id, ""))
            raised += 1
        elif alert.status == AlertStatus.CLOSED:
            if signal.last_case_at is not None and signal.last_case_at > alert.last_seen_at:
                _reopen(session, alert, signal, thresholds, now)
                _notify(session, alert, series.get(alert.series_id, ""))
                reopened += 1
        else:
            updated += _update(session, alert, signal, thresholds, now)
    session.flush()
    return RefreshResult(raised=raised, reopened=reopened, updated=updated)


# ---------------------------------------------------------------- people


def _note(note: str) -> str:
    cleaned = note.strip()
    if not cleaned:
        raise InvalidInput("note", "say what was found or decided")
    if len(cleaned) > NOTE_LENGTH:
        raise InvalidInput("note", f"at most {NOTE_LENGTH} characters")
    return cleaned


def _triage(
    session: Session, subject: AuthSubject, alert: DefectAlert, *, action: str, **values: Any
) -> None:
    before = {name: getattr(alert, name) for name in values}
    for name, value in values.items():
        setattr(alert, name, value)
    audit.record(
        session,
        subject,
        action=f"quality.alert.{action}",
        entity_type="defect_alert",
        entity_id=alert.id,
        changes=audit.diff(before, values),
    )
    session.flush()


def acknowledge(session: Session, subject: AuthSubject, alert: DefectAlert, *, note: str) -> DefectAlert:
    """Someone owns the investigation; the alert stays live and its numbers keep moving."""
    text = _note(note)
    if alert.status == AlertStatus.CLOSED:
        raise Conflict("the alert is closed; it reopens by itself when new cases come in")
    _triage(
        session,
        subject,
        alert,
        action="acknowledge",
        status=AlertStatus.ACKNOWLEDGED.value,
        note=text,
        acknowledged_by_id=subject.user_id or None,
    )
    return alert


def close(session: Session, subject: AuthSubject, alert: DefectAlert, *, note: str) -> DefectAlert:
    """Done with it. Closing marks the cluster as seen now: only cases after this reopen it."""
    text = _note(note)
    if alert.status == AlertStatus.CLOSED:
        raise Conflict("the alert is already closed")
    _triage(
        session,
        subject,
        alert,
        action="close",
        status=AlertStatus.CLOSED.value,
        note=text,
        last_seen_at=clock.now(),
    )
    return alert
