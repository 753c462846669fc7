"""Worker job: recount the defect clusters every few minutes and bring the alerts in line.

Unlike deadlines, this is a recount, not a due row: a missed one is made up by the next, so the worker
keeps only when it last recounted, in memory. A fresh worker recounts on its first pass; two workers
recounting at once write the same numbers (a clash on a new alert is logged and retried next time).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from drivetrain.db import Database, unit_of_work
from drivetrain.kit import clock
from drivetrain.quality.service import refresh_alerts

log = logging.getLogger(__name__)
REFRESH_EVERY = timedelta(minutes=5)


@dataclass
class AlertRefresh:
    """A sweeper (``(db, worker_id) -> rows acted on``) that recounts at most once per ``every``."""

    every: timedelta = REFRESH_EVERY
    last_run: datetime | None = None

    def due(self, now: datetime) -> bool:
        """Due when never run, ``every`` has passed, or the clock went back (tests move it)."""
        return self.last_run is None or not self.last_run <= now < self.last_run + self.every

    def __call__(self, db: Database, _worker_id: str) -> int:
        now = clock.now()
        if not self.due(now):
            return 0
        self.last_run = now
        try:
            with unit_of_work(db) as session:
                return refresh_alerts(session, now=now).changed
        except Exception:
            log.exception("refreshing defect alerts failed; retrying in %s", self.every)
            return 0


sweep_defect_alerts = AlertRefresh()
