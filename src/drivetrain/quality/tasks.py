"""Worker job: recount the defect clusters every few minutes and bring the alerts in line (a recount,
not a due row: see ``jobs.periodic``; a clash on a new alert is logged and retried next time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from drivetrain.jobs import registry
from drivetrain.jobs.periodic import Periodic
from drivetrain.quality.service import refresh_alerts

REFRESH_EVERY = timedelta(minutes=5)


def _refresh(session: Session, now: datetime) -> int:
    return refresh_alerts(session, now=now).changed


def alert_refresh(every: timedelta = REFRESH_EVERY) -> Periodic:
    return Periodic(_refresh, every, "refreshing defect alerts")


sweep_defect_alerts = registry.sweeper(alert_refresh())
